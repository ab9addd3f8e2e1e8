package geo

import (
	"context"
	"fmt"
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

// searchNameSQL finds regions whose names contain $1: first those whose
// name or short name is $1 (the schema's short_name drops the committee
// suffix people leave off: 花茂村村民委员会 is 花茂村), then those whose
// name starts with it, then the rest; within each, higher levels first,
// then shorter names, then codes.
// strpos and starts_with take $1 as it is, with no pattern to escape.
var searchNameSQL = `
SELECT ` + matchColumns + `
FROM regions g
WHERE strpos(g.name, $1) > 0
ORDER BY CASE WHEN g.name = $1 OR short_name(g.name) = $1 THEN 0
              WHEN starts_with(g.name, $1) THEN 1
              ELSE 2 END,
         ` + levelOrder + `, length(g.name), g.code
LIMIT $2`

// searchCodeSQL finds regions whose codes start with $1: the exact code
// first, then from the top level down, then by code.
var searchCodeSQL = `
SELECT ` + matchColumns + `
FROM regions g
WHERE starts_with(g.code, $1)
ORDER BY g.code = $1 DESC, ` + levelOrder + `, g.code
LIMIT $2`

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
	rows, err := db.Query(ctx, sql, q.Q, q.Limit)
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
