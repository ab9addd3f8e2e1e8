package geo

import (
	"strconv"
	"time"
)

// SessionParams are the PostgreSQL settings of every connection battlemap
// opens to serve requests; the benchmark's raw-SQL ceiling uses them too,
// so that both measure the same thing. Connections that make tiles add
// tiles.SessionParams.
func SessionParams(statementTimeout time.Duration) map[string]string {
	return map[string]string{
		"statement_timeout": strconv.FormatInt(statementTimeout.Milliseconds(), 10),
	}
}
