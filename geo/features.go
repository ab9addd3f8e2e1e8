package geo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// Features is one page of a collection's features, in id order, each as
// the database wrote it, read one at a time while the database sends
// them: a page of any size passes through in constant memory. Items makes
// one; Close releases its connection.
type Features struct {
	// Matched counts the features that match the selection's bbox and
	// filters, on all pages together; -1 when more match than the
	// selection counts (Selection.CountUpTo), which it does not say.
	Matched int64
	// Returned counts the features of this page.
	Returned int64
	// NextCursor is the cursor of the following page: the id of this
	// page's last feature; "" on the last page.
	NextCursor string

	rows    pgx.Rows
	feature []byte
	pending bool // the first feature's row is read, not yet handed out
}

// Items reads the page of features s selects, written as e says. The
// page, Matched, Returned and NextCursor come from one statement, so from one
// snapshot, and paging goes by id rather than by offset, so pages neither
// repeat nor skip a feature while others insert or delete.
//
// Items returns once the database has sent what the page's envelope says
// (Matched, Returned, Next), so that errors of the statement come back
// here; the features follow through Next. The connection is held until
// the last feature is read or Close is called: call Close in any case.
// Should ctx end first, the statement is cancelled and the connection
// closed.
func Items(ctx context.Context, db DB, s Selection, e Encoding) (*Features, error) {
	c := s.Collection
	args := s.pageArgs()
	f, err := readPage(ctx, db, c.itemsSQL[e], args)
	if err != nil {
		return nil, fmt.Errorf("items of %s: %w", c.ID, err)
	}
	// More matched than the first statement counts: it sent no page (the
	// features it read are some of the matches, not the first), so the
	// page is read by a statement that neither counts nor reads more than
	// the page. It is planned for its values each time (an unnamed
	// statement): the plan PostgreSQL keeps for a prepared statement
	// after a few runs is made for any box, and reads a country's box by
	// its spatial index, row by row, before it sorts: 6 to 8 s a page of
	// the national villages with no box, where the plan for the whole
	// world sorts their codes at once (0.15 s). Planning costs
	// milliseconds, which a page of more than countUpTo matches can spare.
	if f.Matched > int64(s.countUpTo()) {
		f.Close()
		f, err = readPage(ctx, db, c.denseSQL[e], append([]any{pgx.QueryExecModeExec}, args[:len(args)-1]...))
		if err != nil {
			return nil, fmt.Errorf("items of %s: %w", c.ID, err)
		}
		f.Matched = -1
	}
	return f, nil
}

// readPage runs one of a collection's page statements and reads its rows
// up to the page's first feature. Every row says how many matched and
// returned; the first of the page says where the next page starts. A row
// without a feature (a page after a cursor begins after one) says only
// the former.
func readPage(ctx context.Context, db DB, sql string, args []any) (*Features, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	f := &Features{rows: rows}
	for rows.Next() {
		var matched *int64
		var next *string
		if err := rows.Scan(&matched, &f.Returned, &next, nil); err != nil {
			rows.Close()
			return nil, err
		}
		if matched != nil {
			f.Matched = *matched
		}
		if next != nil {
			f.NextCursor = *next
		}
		if rows.RawValues()[3] != nil {
			f.pending = true
			break
		}
	}
	if !f.pending {
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Next reads the next feature of the page, false after the last or on
// an error, which Err then returns.
func (f *Features) Next() bool {
	if f.pending {
		f.pending = false
	} else if !f.rows.Next() {
		return false
	}
	f.feature = f.rows.RawValues()[3]
	return true
}

// Feature is the feature Next read, valid until Next is called again.
func (f *Features) Feature() []byte { return f.feature }

// Err is the error that ended the features early, if any.
func (f *Features) Err() error { return f.rows.Err() }

// Close releases the connection; the features not read are dropped. It
// may be called more than once.
func (f *Features) Close() { f.rows.Close() }

// FeatureCollection reads the first page s selects (s.Cursor is ignored)
// as one GeoJSON FeatureCollection, with numberMatched, that the database
// writes whole: string_agg of ST_AsGeoJSON of each feature's record,
// without ids or links. The server does not serve it (it keeps a page in
// memory and its envelope is not OGC API's); it is the yardstick of what
// PostGIS alone takes to write a page, which cmd/loadbench measures the
// server against.
func FeatureCollection(ctx context.Context, db DB, s Selection) ([]byte, error) {
	var fc []byte
	if err := db.QueryRow(ctx, s.Collection.fcSQL, append(s.where(), s.Limit)...).Scan(&fc); err != nil {
		return nil, fmt.Errorf("feature collection of %s: %w", s.Collection.ID, err)
	}
	return fc, nil
}

// Item reads the feature of c with id, written as e says; ENotFound when
// there is none.
func Item(ctx context.Context, db DB, c *Collection, id string, e Encoding) ([]byte, error) {
	if !ValidID(id) {
		return nil, Errorf(ENotFound, "%s has no feature %s", c.ID, Quote(id))
	}
	var f []byte
	err := db.QueryRow(ctx, c.itemSQL[e], id).Scan(&f)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Errorf(ENotFound, "%s has no feature %s", c.ID, Quote(id))
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.ID, id, err)
	}
	return f, nil
}

// Extent is where and when a collection's features lie.
type Extent struct {
	// Box is their bounding box in WGS 84 longitude/latitude; nil when
	// there are no features.
	Box *orb.Bound
	// First and Last are the first and last of their days (2006-01-02,
	// always four digits of year): "" when the collection has no time, no
	// feature has that end, or the day lies outside the years 1 to 9999,
	// which RFC 3339 cannot write.
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

// ETag is the strong validator of a feature as Item writes it (its
// representation as the database makes it, before a server adds links):
// a hash of its bytes, quoted. The answer to a feature's GET carries it,
// and an edit must name the ETag of the feature it was made against, so
// that no change is made over one the editor has not seen.
func ETag(feature []byte) string {
	sum := sha256.Sum256(feature)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}
