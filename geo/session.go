package geo

import (
	"strconv"
	"time"
)

// SessionParams are the PostgreSQL settings of every connection battlemap
// opens to serve requests; the benchmark's raw-SQL ceiling uses them too,
// so that both measure the same thing. Connections that make tiles add
// tiles.SessionParams.
//
// JIT compilation is off: battlemap's statements are short, and
// compiling one whose estimated cost passes jit_above_cost took about
// 100 ms here, more than running it (an edit's rollup refresh went from
// 180 to 75 ms without it).
func SessionParams(statementTimeout time.Duration) map[string]string {
	return map[string]string{
		"statement_timeout": strconv.FormatInt(statementTimeout.Milliseconds(), 10),
		"jit":               "off",
	}
}
