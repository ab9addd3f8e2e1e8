package geo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Limits of a search.
const (
	DefaultSearchLimit = 10
	MaxSearchLimit     = 50
	// MaxSearchRunes bounds q: no region's name is longer.
	MaxSearchRunes = 50
)

// SearchQuery is a validated search for regions.
type SearchQuery struct {
	// Q is a name or part of one, or the first digits of a code.
	Q string
	// Limit is the most matches returned.
	Limit int
}

// Match is a region found by a search.
type Match struct {
	RegionRef
	// Breadcrumb runs from the top region down to the region itself.
	Breadcrumb []RegionRef `json:"breadcrumb"`
	// BBox is minLon, minLat, maxLon, maxLat of its boundary, or of its
	// point for a village without one.
	BBox []float64 `json:"bbox"`
}

// Check validates q: Q trimmed, not empty, text of at most
// MaxSearchRunes characters. It returns q trimmed, or an EInvalid error
// saying what is wrong with q.
func (q SearchQuery) Check() (SearchQuery, error) {
	q.Q = strings.TrimSpace(q.Q)
	switch {
	case q.Q == "":
		return q, Errorf(EInvalid, "q must be a name, part of one, or the first digits of a code; it is empty")
	case !utf8.ValidString(q.Q) || strings.ContainsFunc(q.Q, unicode.IsControl):
		return q, Errorf(EInvalid, "q must be text without control characters (got %s)", Quote(q.Q))
	case utf8.RuneCountInString(q.Q) > MaxSearchRunes:
		return q, Errorf(EInvalid, "q must be at most %d characters (got %d)", MaxSearchRunes, utf8.RuneCountInString(q.Q))
	}
	return q, nil
}

// matchColumns are what a Match holds, over regions g.
const matchColumns = `g.code, g.name, g.level, ` + breadcrumbColumn + `, ` + bboxColumn

// matchesSQL reads the Match of each candidate c (its code, and ord, its
// place among the matches) with the candidates' limit $2: the breadcrumb
// and the box are made for the matches returned alone.
func matchesSQL(candidates string) string {
	return `
SELECT ` + matchColumns + `
FROM (
` + candidates + `
ORDER BY ord
LIMIT $2
) c JOIN regions g ON g.code = c.code
ORDER BY c.ord`
}

// rank is the order of matches of the same quality: from the top level
// down, then shorter names, then codes. level_rank, name_grams and
// query_grams are migrations/021_search.sql's, and every tier below reads
// an index of that migration's, so that a search costs about the same
// over a country's regions as over a city's.
const rank = `level_rank(g.level), length(g.name), g.code COLLATE "C"`

// rankColumns are rank's keys, as lr, len and c, for ranking the tiers'
// matches together.
const rankColumns = `level_rank(g.level) AS lr, length(g.name) AS len, g.code COLLATE "C" AS c`

// searchNameSQL finds regions whose names contain $1: first those whose
// name or short name is $1 (the schema's short_name drops the committee
// suffix people leave off: 花茂村村民委员会 is 花茂村), then those whose
// name starts with it, then the rest; within each, by rank. Each tier
// takes its first $2 by rank, from its own index, and the best $2 of
// those are the matches. strpos and the byte-wise range take $1 as it is,
// with no pattern to escape.
//
// The names that start with $1, and those that contain it elsewhere, are
// read one of two ways, as the planner's estimates of how many there are
// say (prefix_matches, gram_matches: migrations/025_search_plans.sql):
// a few thousand at most, from the name or n-gram index, sorted (the
// subquery's OFFSET 0 keeps the planner from walking the rank index for
// them, which it would, not knowing the matches may lie at its far end);
// more, by walking the rank index, where the first matches come soon.
// The estimates are read once, and the branch they rule out does not run.
var searchNameSQL = matchesSQL(`
WITH bound AS MATERIALIZED (SELECT prefix_matches($1) AS prefixed, gram_matches($1) AS holding)
SELECT code, row_number() OVER (ORDER BY tier, lr, len, c) AS ord FROM (
  (SELECT g.code, 0 AS tier, ` + rankColumns + ` FROM regions g
   WHERE g.name COLLATE "C" = $1 OR short_name(g.name) = $1
   ORDER BY ` + rank + ` LIMIT $2)
` + tier(1, `g.name COLLATE "C" > $1 AND g.name COLLATE "C" < $1 || chr(1114111) AND short_name(g.name) <> $1`, "prefixed") + `
` + tier(2, `name_grams(g.name) @> query_grams($1) AND strpos(g.name, $1) > 1`, "holding") + `
) t`)

// tier is the matches of a tier whose names hold where: the first $2 by
// rank, read from the index that where can use and sorted when bound's
// column estimate says there are few, else by walking the rank index.
func tier(n int, where, estimate string) string {
	few := `(SELECT ` + estimate + ` FROM bound) <= ` + strconv.Itoa(sortedMatches)
	return `  UNION ALL
  (SELECT g.code, ` + strconv.Itoa(n) + `, ` + rankColumns + `
   FROM (SELECT * FROM regions g WHERE ` + where + ` OFFSET 0) g WHERE ` + few + `
   ORDER BY ` + rank + ` LIMIT $2)
  UNION ALL
  (SELECT g.code, ` + strconv.Itoa(n) + `, ` + rankColumns + ` FROM regions g
   WHERE ` + where + ` AND NOT ` + few + `
   ORDER BY ` + rank + ` LIMIT $2)`
}

// sortedMatches is the most matches the planner may estimate for a tier
// for the search to read them all and sort them: some milliseconds.
const sortedMatches = 10000

// searchCodeSQL finds regions whose codes start with $1: the exact code
// first, then from the top level down, then by code. Codes have 6, 9 or
// 12 digits, a length per level below the county's; each length is
// read apart, in byte order, from the index of lengths and codes.
var searchCodeSQL = matchesSQL(`
SELECT code, row_number() OVER (ORDER BY code <> $1, level_rank(level), code COLLATE "C") AS ord FROM (
  (SELECT g.code, g.level FROM regions g WHERE g.code = $1)
  UNION ALL
  (SELECT g.code, g.level FROM regions g
   WHERE length(g.code) = 6 AND g.code COLLATE "C" > $1 AND g.code COLLATE "C" < $1 || chr(1114111)
   ORDER BY level_rank(g.level), g.code COLLATE "C" LIMIT $2)
  UNION ALL
  (SELECT g.code, g.level FROM regions g
   WHERE length(g.code) = 9 AND g.code COLLATE "C" > $1 AND g.code COLLATE "C" < $1 || chr(1114111)
   ORDER BY g.code COLLATE "C" LIMIT $2)
  UNION ALL
  (SELECT g.code, g.level FROM regions g
   WHERE length(g.code) = 12 AND g.code COLLATE "C" > $1 AND g.code COLLATE "C" < $1 || chr(1114111)
   ORDER BY g.code COLLATE "C" LIMIT $2)
) t`)

// Search finds the regions q names: by code prefix when q is all digits,
// else by name, best matches first. q is checked first (see Check).
func Search(ctx context.Context, db DB, q SearchQuery) ([]Match, error) {
	q, err := q.Check()
	if err != nil {
		return nil, err
	}
	sql := searchNameSQL
	if strings.Trim(q.Q, "0123456789") == "" {
		sql = searchCodeSQL
	}
	// Planned for q itself, never generically: whether q is a character
	// most names hold (村) or one few do decides between reading the
	// regions in rank order and reading the n-gram index.
	rows, err := db.Query(ctx, sql, pgx.QueryExecModeExec, q.Q, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	matches, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Match, error) {
		var m Match
		err := row.Scan(&m.Code, &m.Name, &m.Level, &m.Breadcrumb, &m.BBox)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return matches, nil
}
