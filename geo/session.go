package geo

import (
	"strconv"
	"time"
)

// SessionParams are the PostgreSQL settings of every connection that
// serves map requests; the benchmark's raw-SQL ceiling uses them too, so
// both measure the same thing.
//
// plan_cache_mode: a tile's statement is large and its parameters (z, x,
// y) do not change which plan is best, yet with custom plans PostgreSQL
// re-plans it on every execution, which costs more than a small tile
// takes to make. Generic plans are planned once per connection.
func SessionParams(statementTimeout time.Duration) map[string]string {
	return map[string]string{
		"statement_timeout": strconv.FormatInt(statementTimeout.Milliseconds(), 10),
		"plan_cache_mode":   "force_generic_plan",
	}
}
