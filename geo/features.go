package geo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

// Feature is one feature of a collection.
type Feature struct {
	ID         string
	Geometry   orb.Geometry // WGS 84 longitude/latitude
	Properties Record
}

// Page is one page of a collection's features, in id order.
type Page struct {
	Selection Selection
	Features  []Feature
	// Matched counts the features that match the selection's bbox and
	// filters, on all pages together.
	Matched int64
	// Next is the cursor of the following page: the id of this page's
	// last feature; "" on the last page.
	Next string
	// TimeStamp is when the page was read.
	TimeStamp time.Time
}

// Items reads the page of features s selects. The page and Matched come
// from one statement, so from one snapshot, and paging goes by id rather
// than by offset, so pages neither repeat nor skip a feature while others
// insert or delete.
func Items(ctx context.Context, db DB, s Selection) (*Page, error) {
	c := s.Collection
	p := &Page{Selection: s, TimeStamp: time.Now().UTC()}
	err := QueryItems(ctx, db, s, func(rows pgx.Rows) error {
		for rows.Next() {
			f, ok, err := c.scanFeature(rows, &p.Matched)
			if err != nil {
				return err
			}
			if ok {
				p.Features = append(p.Features, f)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("items of %s: %w", c.ID, err)
	}
	if len(p.Features) > s.Limit {
		p.Features = p.Features[:s.Limit]
		p.Next = p.Features[s.Limit-1].ID
	}
	return p, nil
}

// QueryItems runs the SQL of Items for s, one statement whose rows each
// start with the count of the features that match s's bbox and filters,
// followed by a feature of the page, ordered by id: one row more than
// s.Limit (the extra row tells that another page follows). An empty page
// is one row with the count and NULL for the rest. It hands the rows to
// read and returns the first error, read's or the database's. Items
// decodes the rows; cmd/loadbench reads them raw, to measure what the
// database alone costs.
func QueryItems(ctx context.Context, db DB, s Selection, read func(pgx.Rows) error) error {
	rows, err := db.Query(ctx, s.Collection.itemsSQL, s.pageArgs()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := read(rows); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// Item reads the feature of c with id; ENotFound when there is none.
func Item(ctx context.Context, db DB, c *Collection, id string) (*Feature, error) {
	if !ValidID(id) {
		return nil, Errorf(ENotFound, "%s has no feature %s", c.ID, Quote(id))
	}
	f, _, err := c.scanFeature(db.QueryRow(ctx, c.itemSQL, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Errorf(ENotFound, "%s has no feature %s", c.ID, Quote(id))
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.ID, id, err)
	}
	return &f, nil
}

// Extent is where and when a collection's features lie.
type Extent struct {
	// Box is their bounding box in WGS 84 longitude/latitude; nil when
	// there are no features.
	Box *orb.Bound
	// First and Last are the first and last of their days (2006-01-02):
	// "" when the collection has no time or no feature has that end.
	First, Last string
}

// Extents are the extents of the features of each of cs, in order.
func Extents(ctx context.Context, db DB, cs []*Collection) ([]Extent, error) {
	out := make([]Extent, len(cs))
	b := snapshot(db)
	for i, c := range cs {
		b.Queue(c.extentSQL).QueryRow(func(row pgx.Row) error {
			var minX, minY, maxX, maxY *float64
			var first, last *string
			if err := row.Scan(&minX, &minY, &maxX, &maxY, &first, &last); err != nil {
				return err
			}
			if minX != nil {
				out[i].Box = &orb.Bound{Min: orb.Point{*minX, *minY}, Max: orb.Point{*maxX, *maxY}}
			}
			if first != nil {
				out[i].First = *first
			}
			if last != nil {
				out[i].Last = *last
			}
			return nil
		})
	}
	if err := send(ctx, db, b); err != nil {
		return nil, fmt.Errorf("extents: %w", err)
	}
	return out, nil
}

func (c *Collection) scanFeatures(rows pgx.Rows) ([]Feature, error) {
	var fs []Feature
	for rows.Next() {
		f, _, err := c.scanFeature(rows)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// scanFeature reads a row of c's SQL: first into lead, the columns some
// statements put before the feature's, then the id, the geometry as WKB
// and the columns. A row whose id is NULL holds no feature (the row that
// brings the count of an empty page): ok is false.
func (c *Collection) scanFeature(row pgx.Row, lead ...any) (f Feature, ok bool, err error) {
	f.Properties = Record{Columns: c.Columns, Values: make([]any, len(c.Columns))}
	var (
		id   *string
		geom []byte
	)
	dest := make([]any, 0, len(lead)+len(c.Columns)+2)
	dest = append(append(dest, lead...), &id, &geom)
	for i := range f.Properties.Values {
		dest = append(dest, &f.Properties.Values[i])
	}
	if err := row.Scan(dest...); err != nil {
		return Feature{}, false, err
	}
	if id == nil {
		return Feature{}, false, nil
	}
	f.ID = *id
	if f.Geometry, err = wkb.Unmarshal(geom); err != nil {
		return Feature{}, false, fmt.Errorf("geometry of %s %s: %w", c.ID, f.ID, err)
	}
	return f, true, nil
}
