package geo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
// down, then shorter names, then codes. level_rank and query_grams are
// migrations/021_search.sql's, ranked_grams
// migrations/027_search_groups.sql's and ranked_query_grams
// migrations/029_search_keys.sql's, and every tier below reads an index
// of one of the two, so that a search costs about the same over a
// country's regions as over a city's.
const rank = `level_rank(g.level), length(g.name), g.code COLLATE "C"`

// rankColumns are rank's keys, as lr, len and c, for ranking the tiers'
// matches together.
const rankColumns = `level_rank(g.level) AS lr, length(g.name) AS len, g.code COLLATE "C" AS c`

// searchNameSQL finds regions whose names contain $1: first those whose
// name or short name is $1 (the schema's short_name drops the committee
// suffix people leave off: 花茂村村民委员会 is 花茂村), then those whose
// name starts with it, then the rest; within each, by rank. strpos and
// the byte-wise range take $1 as it is, with no pattern to escape.
//
// The tiers are read in turn, each only when the ones before it found
// fewer than $2 matches (named, started and need): a tier cannot beat a
// match of one before it, so that a name many regions bear (朝阳, 218 of
// them) costs its own index alone, not the reading of every name that
// starts with it or holds it.
//
// The names that start with $1 are read one of two ways, as the
// planner's estimate of how many there are says (prefix_matches:
// migrations/025_search_plans.sql): a few thousand at most, from the
// name index, sorted (the subquery's OFFSET 0 keeps the planner from
// walking the rank index for them, which it would, not knowing the
// matches may lie at its far end); more, by walking the rank index, where
// the first matches come soon. The estimate is read once, and the branch
// it rules out does not run. Those that are named lie in named, whole
// when started is read: excluding them costs a lookup per name, where
// short_name's pattern would cost a match of it. The names that hold $1
// further on are read group by group (holdingSQL).
var searchNameSQL = matchesSQL(`
WITH named AS MATERIALIZED (
  SELECT g.code, 0 AS tier, ` + rankColumns + ` FROM regions g
  WHERE g.name COLLATE "C" = $1 OR short_name(g.name) = $1
  ORDER BY ` + rank + ` LIMIT $2),
bound AS MATERIALIZED (
  SELECT prefix_matches($1) AS prefixed WHERE (SELECT count(*) FROM named) < $2),
started AS MATERIALIZED (
  (SELECT g.code, 1 AS tier, ` + rankColumns + `
   FROM (SELECT * FROM regions g WHERE ` + prefixed + ` OFFSET 0) g WHERE ` + fewPrefixed + `
   ORDER BY ` + rank + ` LIMIT $2)
  UNION ALL
  (SELECT g.code, 1, ` + rankColumns + ` FROM regions g
   WHERE ` + prefixed + ` AND ` + manyPrefixed + `
   ORDER BY ` + rank + ` LIMIT $2)),
need AS MATERIALIZED (
  SELECT greatest($2 - (SELECT count(*) FROM named) - (SELECT count(*) FROM started), 0) AS n)
SELECT code, row_number() OVER (ORDER BY tier, lr, len, c) AS ord FROM (
  TABLE named
  UNION ALL
  TABLE started
  UNION ALL
` + holdingSQL + `
) t`)

// prefixed holds for the names of regions g that start with $1 but are
// not it, nor is their short name (the names in named, whole when no
// more than $2 - 1 are).
const prefixed = `g.name COLLATE "C" > $1 AND g.name COLLATE "C" < $1 || chr(1114111) AND g.code NOT IN (SELECT code FROM named)`

// fewPrefixed holds when the planner estimates few enough names start
// with $1 to read them all and sort them: some milliseconds. Neither it
// nor manyPrefixed holds when named found $2 matches.
const fewPrefixed = `(SELECT prefixed FROM bound) <= 10000`

// manyPrefixed holds when the planner estimates more names start with
// $1.
const manyPrefixed = `(SELECT prefixed FROM bound) > 10000`

// holdingSQL is the first matches by rank of the names that hold $1
// past their first character, the tier 2 of searchNameSQL, as many as
// need says are still wanted (none: it reads nothing). The names of a
// level and a length (a group) are ranked by code, and the groups by
// level and length, from the shortest that can hold $1; the incremental
// sort takes the groups in that order and stops at the one that
// completes the matches. Each group is read the cheaper way for it:
//   - its first names by code (groupHead), from the rank index alone
//     (migrations/029_search_keys.sql): the matches of a group read
//     whole, or of a group where $2 of them hold $1;
//   - else from the index of n-grams by group (migrations/027), which
//     costs a few index pages for a group that holds $1 in few names or
//     none, its matches sorted when they are fewer than groupSorted;
//   - else, a group holding $1 in many names, its walk by code.
//
// A fragment tens of thousands of names share (社区居委会) costs the
// groups before its first match, not a sort of every match nor a walk
// past every shorter name.
var holdingSQL = `  (SELECT m.code, 2, g.lr, g.len, m.c
   FROM (SELECT lr, len, ranked_query_grams((SELECT query_grams($1)), lr, len) AS keys
         FROM generate_series(level_rank('country'), level_rank('village')) lr,
           LATERAL generate_series(length($1) + 1,
             (SELECT max(length(r.name)) FROM regions r WHERE level_rank(r.level) = lr)) len
         WHERE (SELECT n FROM need) > 0
         ORDER BY lr, len) g
   CROSS JOIN LATERAL (
     SELECT array_agg(h.code) FILTER (WHERE strpos(h.name, $1) > 1) AS codes,
            count(*) FILTER (WHERE strpos(h.name, $1) > 1) AS n, count(*) AS read
     FROM (SELECT r.code, r.code COLLATE "C" AS c, r.name FROM regions r
           WHERE level_rank(r.level) = g.lr AND length(r.name) = g.len
           ORDER BY ` + groupRank + ` LIMIT ` + groupHead + `) h) h
   CROSS JOIN LATERAL (
     SELECT array_agg(s.code) AS codes, count(*) AS n
     FROM (SELECT r.code FROM regions r
           WHERE ranked_grams(r.level, r.name) @> g.keys
             AND strpos(r.name, $1) > 1 AND h.n < $2 AND h.read = ` + groupHead + `
           LIMIT ` + strconv.Itoa(groupSorted) + `) s) s
   CROSS JOIN LATERAL (
     (SELECT m.code, m.code COLLATE "C" AS c FROM unnest(h.codes) m (code)
      WHERE h.n >= $2 OR h.read < ` + groupHead + `
      ORDER BY 2 LIMIT $2)
     UNION ALL
     (SELECT m.code, m.code COLLATE "C" FROM unnest(s.codes) m (code)
      WHERE s.n < ` + strconv.Itoa(groupSorted) + `
      ORDER BY 2 LIMIT $2)
     UNION ALL
     (SELECT r.code, r.code COLLATE "C" FROM regions r
      WHERE level_rank(r.level) = g.lr AND length(r.name) = g.len AND strpos(r.name, $1) > 1
        AND s.n >= ` + strconv.Itoa(groupSorted) + `
      ORDER BY ` + groupRank + ` LIMIT $2)) m
   ORDER BY g.lr, g.len, m.c LIMIT (SELECT n FROM need))`

// groupHead is how many names of a group holdingSQL reads first: $2 and
// some, so that a group where most names hold $1 (村) needs no more.
const groupHead = `($2 + 30)`

// groupRank is rank over regions r, for the names of one group: its
// level and length are the same throughout, but ordered by them the
// walk of a group reads the rank index in its order, where ordered by
// code alone it may read the whole group and sort it.
const groupRank = `level_rank(r.level), length(r.name), r.code COLLATE "C"`

// groupSorted is the most matches of a group that holdingSQL reads from
// the n-gram index and sorts; a group with more is walked by code, where
// they lie one name in a few hundred at least.
const groupSorted = 500

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

// genericPlansSQL has the statements after it, to the end of the
// transaction, planned generically (see Search).
const genericPlansSQL = `SET LOCAL plan_cache_mode = force_generic_plan`

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
	// The statement is planned once per connection, generically (its
	// plan is cached with the connection's prepared statement): every
	// choice that depends on q, whether names are it, how many start with
	// it, which groups hold it, is made as it runs, by the one-time
	// filters of its tiers and groups, so the plan is the same for every
	// q. Planned for q itself it cost more than it took to run: 2–3 ms a
	// search over a country's regions, against 1–4 ms for the run. The
	// setting is the search's alone: it runs in a transaction of its own
	// (a savepoint inside the caller's), rolled back since it writes
	// nothing.
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer tx.Rollback(ctx)
	var matches []Match
	b := &pgx.Batch{}
	b.Queue(genericPlansSQL)
	b.Queue(sql, q.Q, q.Limit).Query(func(rows pgx.Rows) (err error) {
		matches, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Match, error) {
			var m Match
			err := row.Scan(&m.Code, &m.Name, &m.Level, &m.Breadcrumb, &m.BBox)
			return m, err
		})
		return err
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return matches, nil
}

// WarmSearch runs a search by name and one by code on conns of pool's
// connections, before the first request: Search's statements are
// planned once per connection (see Search), and over a country's regions
// the first search of each kind on a connection would otherwise wait
// some milliseconds for the planner.
func WarmSearch(ctx context.Context, pool *pgxpool.Pool, conns int) error {
	err := OnConns(ctx, pool, conns, func(c *pgxpool.Conn) error {
		for _, q := range []string{"村", "52"} {
			if _, err := Search(ctx, c, SearchQuery{Q: q, Limit: DefaultSearchLimit}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("search: warm: %w", err)
	}
	return nil
}
