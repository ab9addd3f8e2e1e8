package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twpayne/go-geom"

	"github.com/zunyi/battlemap/geo"
)

// The phases of a bulk load, as Progress names them.
const (
	// PhaseReading reads, checks and copies the features batch by batch.
	PhaseReading = "reading"
	// PhaseChecking runs the checks over the whole file (codes unique).
	PhaseChecking = "checking"
	// PhaseWriting upserts the staged rows into the schema.
	PhaseWriting = "writing"
	// PhaseRefreshing refreshes the rollups, one province at a time.
	PhaseRefreshing = "refreshing"
	// PhaseCommitting commits, computing the flags of what changed.
	PhaseCommitting = "committing"
)

// batchSize is how many features a bulk load checks against the
// database and copies at a time: large enough that a round trip costs
// little per feature, small enough that a batch's memory does not count.
// A layer whose features may hold their parents (regions: a file lists
// the country, its provinces, their cities…) is checked as one batch,
// since a parent read in an earlier batch is staged, not yet in the
// tables the checks read; a country's regions are some 45,000 features.
const batchSize = 5000

// maxReported is how many problems a bulk load's report lists; it counts
// the others. A national file with a systematic fault would otherwise
// make a report of millions of lines.
const maxReported = 1000

// Progress is how far a bulk load has come, handed to Config.Progress.
type Progress struct {
	// Phase is one of the Phase constants.
	Phase string
	// Features is how many features were read.
	Features int
	// Bytes is how many bytes of the file were read; Size is the file's
	// size when the caller knows it, else 0.
	Bytes, Size int64
	// Done and Total count the steps of PhaseRefreshing (provinces); both
	// are 0 in the other phases.
	Done, Total int
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n int64
}

// Read implements io.Reader.
func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// errRejected ends a bulk load's transaction when a feature was
// rejected; the Report says why.
var errRejected = errors.New("import: features rejected")

// Bulk is Import for files of any size, as the command line loads them:
// it reads r as format feature by feature (no limit of bytes or
// features, the memory of a batch at a time), checks each feature as
// Import does, and copies the rows in batches into the staging table of
// one transaction on db, in bulk mode: the rollups of the counties
// written are refreshed once, one province at a time, and the counties'
// versions moved once, when every row is in, rather than by every
// statement (migrations/022_bulk_loads.sql). The
// checks that need the whole file (a code given twice) run in SQL over
// the staging table; the upsert, with its audit and history rows, runs
// only when no feature has a problem. size is r's size in bytes, when
// known (0 otherwise), for the progress handed to Config.Progress.
//
// The Report lists the first 1,000 problems, in file order, and counts
// all of them. Errors are Import's, except that the file has no limit
// and that a transaction aborted by a concurrent one is not run again
// (the file has been read): EConflict at once. Nothing is written unless
// the error is nil.
func (im *Importer) Bulk(ctx context.Context, db geo.DB, actor geo.Actor, layer string, format Format, r io.Reader, size int64) (*Report, error) {
	l := layerNamed(layer)
	if l == nil {
		return nil, geo.Errorf(geo.ENotFound, "no layer %q to import: the layers are %s", layer, strings.Join(Layers(), ", "))
	}
	b := &bulk{im: im, db: db, actor: actor, l: l, format: format, extent: im.cfg.Extent, in: &counter{r: r}, size: size,
		rep: &Report{Layer: l.Name}, rejected: newRejections()}
	audit := &geo.Audit{Action: "import", Table: l.Name}
	runs := 0
	version, err := geo.Change(ctx, db, actor, audit, func(tx pgx.Tx) error {
		// geo.Change runs fn again after a deadlock, but the file has
		// been read.
		if runs++; runs > 1 {
			return geo.Errorf(geo.EConflict, "the import collided with another change made at the same time and was not made; run it again")
		}
		if err := b.load(ctx, tx); err != nil {
			return err
		}
		audit.After = map[string]int{"received": b.rep.Received, "inserted": b.rep.Inserted, "updated": b.rep.Updated}
		// The deferred checks and the flags of what changed run at
		// commit, when fn has returned.
		b.progress(PhaseCommitting, 0, 0)
		return nil
	})
	if errors.Is(err, errRejected) {
		b.rep.Rejected = b.rejected.first
		if b.rejected.total > len(b.rejected.first) {
			b.rep.RejectedCount = b.rejected.total
		}
		return b.rep, b.rejected.error(b.rep.Received)
	}
	if err != nil {
		return nil, err
	}
	b.rep.DataVersion, b.rep.Rejected = version, []Rejection{}
	return b.rep, nil
}

// bulk is one bulk load under way.
type bulk struct {
	im       *Importer
	db       geo.DB    // what the load's transaction was begun on
	actor    geo.Actor // who loads
	l        *layer
	format   Format
	extent   *geom.Bounds
	in       *counter
	size     int64
	rep      *Report
	rejected *rejections
	batch    []record
	problems []Rejection // the batch's problems found without the database
	staged   int         // rows staged
	batches  int         // batches staged
}

// progress hands where the load is to Config.Progress.
func (b *bulk) progress(phase string, done, total int) {
	if p := b.im.cfg.Progress; p != nil {
		p(Progress{Phase: phase, Features: b.rep.Received, Bytes: b.in.n, Size: b.size, Done: done, Total: total})
	}
}

// fail asks the test hook whether to fail at phase after n steps.
func (b *bulk) fail(phase string, n int) error {
	if b.im.failAfter == nil {
		return nil
	}
	return b.im.failAfter(phase, n)
}

// load stages, checks and writes the file in tx; errRejected when a
// feature was rejected.
func (b *bulk) load(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, sqlBulk); err != nil {
		return fmt.Errorf("import: bulk mode: %w", err)
	}
	if _, err := tx.Exec(ctx, b.l.sqlStage); err != nil {
		return fmt.Errorf("import: stage: %w", err)
	}
	// On a pool, the checks run on a connection of their own, beside the
	// load's transaction: a batch is checked there while the next is read
	// and staged here, and a country's regions, one batch, are checked
	// while they are written. (A pool of one connection would have the
	// checks wait for the load, and the load for them.)
	var apart *checker
	if pool, ok := b.db.(*pgxpool.Pool); ok && pool.Config().MaxConns > 1 {
		ctx, cancel := context.WithCancel(ctx)
		apart = b.checkApart(ctx, pool)
		// An early return ends the checks and waits for them; its own
		// error is the one returned.
		defer func() {
			cancel()
			apart.wait()
		}()
	}
	each := func(f feature) error {
		b.rep.Received++
		rec, problems := b.l.check(f, b.extent)
		b.batch, b.problems = append(b.batch, rec), append(b.problems, problems...)
		if len(b.batch) == batchSize && !b.l.holdsParents() {
			return b.flush(ctx, tx, apart)
		}
		return nil
	}
	var fileProblems []Rejection
	var err error
	switch b.format {
	case GeoJSON:
		fileProblems, err = streamGeoJSON(b.in, each)
	case CSV:
		fileProblems, err = streamCSV(b.in, b.l, each)
	default:
		err = fmt.Errorf("importer: unknown format %d", b.format)
	}
	if err != nil {
		return err
	}
	if err := b.flush(ctx, tx, apart); err != nil {
		return err
	}
	if b.rep.Received == 0 && len(fileProblems) == 0 {
		fileProblems = []Rejection{{Reason: "the file holds no features"}}
	}
	b.rejected.add(fileProblems)
	b.progress(PhaseChecking, 0, 0)
	if err := b.duplicates(ctx, tx); err != nil {
		return err
	}
	var written error
	if b.rejected.total == 0 {
		written = b.write(ctx, tx)
	}
	if apart != nil {
		problems, err := apart.wait()
		if err != nil {
			return err
		}
		b.rejected.add(problems)
	}
	if b.rejected.total > 0 {
		return errRejected
	}
	return written
}

// flush records the batch's problems, has the database check it (apart,
// or here when apart is nil) and copies its rows into the staging table.
func (b *bulk) flush(ctx context.Context, tx pgx.Tx, apart *checker) error {
	recs := b.batch
	if len(recs) == 0 {
		return nil
	}
	b.rejected.add(b.problems)
	b.batch, b.problems = make([]record, 0, batchSize), b.problems[:0]
	if apart != nil {
		if err := apart.check(ctx, recs); err != nil {
			return err
		}
	} else {
		problems, err := b.check(ctx, tx, recs)
		if err != nil {
			return err
		}
		b.rejected.add(problems)
	}
	return b.stage(ctx, tx, recs)
}

// check asks the database what it alone can say of recs: the regions
// they name, their shapes' validity, and whether each lies where it must.
func (b *bulk) check(ctx context.Context, db geo.DB, recs []record) ([]Rejection, error) {
	missing, err := b.im.checkRegions(ctx, db, recs)
	if err != nil {
		return nil, err
	}
	invalid, err := checkShapes(ctx, db, b.l, recs)
	if err != nil {
		return nil, err
	}
	misplaced, err := checkPlaces(ctx, db, b.l, recs)
	if err != nil {
		return nil, err
	}
	return append(append(missing, invalid...), misplaced...), nil
}

// checker runs a load's checks on a connection of its own, batch by
// batch, beside the load's transaction and on a core of its own: the
// 606,000 villages of the national data set take 6 s to check (where
// each lies in its county) and as long to read and stage. The checks
// read what was committed, as they would in the load's transaction
// before it wrote, with the loader's scope.
type checker struct {
	batches  chan []record
	finished chan struct{}
	closing  sync.Once
	problems []Rejection
	err      error
}

// checkApart starts the checks of the batches handed to the checker on
// a connection of pool; they end with ctx or when wait is called.
func (b *bulk) checkApart(ctx context.Context, pool *pgxpool.Pool) *checker {
	c := &checker{batches: make(chan []record), finished: make(chan struct{})}
	go func() {
		defer close(c.finished)
		c.err = geo.ReadAs(ctx, pool, b.actor, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sqlBulk); err != nil {
				return fmt.Errorf("import: bulk mode: %w", err)
			}
			for recs := range c.batches {
				problems, err := b.check(ctx, tx, recs)
				if err != nil {
					return err
				}
				c.problems = append(c.problems, problems...)
			}
			return nil
		})
	}()
	return c
}

// check hands recs to the checks, once those of the batch before are
// done: the load reads at most one batch ahead of its checks.
func (c *checker) check(ctx context.Context, recs []record) error {
	select {
	case c.batches <- recs:
		return nil
	case <-c.finished:
		if c.err != nil {
			return c.err
		}
		return errors.New("import: the checks ended early")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait says no batch follows and waits for the checks; it may be called
// more than once.
func (c *checker) wait() ([]Rejection, error) {
	c.closing.Do(func() { close(c.batches) })
	<-c.finished
	return c.problems, c.err
}

// stage copies recs' rows into the staging table: rows are staged even
// after a problem, so that the codes given twice are found in all of the
// file; nothing staged is written then.
func (b *bulk) stage(ctx context.Context, tx pgx.Tx, recs []record) error {
	rows := make([][]any, 0, len(recs))
	for _, rec := range recs {
		if rec.row != nil {
			rows = append(rows, append(rec.row, b.pos(rec.Position)))
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{b.l.stage}, append(b.l.columns(), stagedPos), pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("import: copy: %w", err)
	}
	b.staged, b.batches = b.staged+len(rows), b.batches+1
	b.progress(PhaseReading, 0, 0)
	return b.fail(PhaseReading, b.batches)
}

// holdsParents reports whether a feature of l may name, as its parent,
// another feature of the same file (geo.ParentOf).
func (l *layer) holdsParents() bool {
	return slices.ContainsFunc(l.Rules, func(r geo.Rule) bool { return r.Kind == geo.ParentOf })
}

// pos is a feature's position as the staging table keeps it.
func (b *bulk) pos(p Position) int {
	if p.Index != nil {
		return *p.Index
	}
	return p.Line
}

// position is the Position of a feature pos gave n.
func (b *bulk) position(n int) Position {
	if b.format == GeoJSON {
		return Position{Index: &n}
	}
	return Position{Line: n}
}

// duplicates rejects the rows whose code an earlier row of the file has.
func (b *bulk) duplicates(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, duplicatesSQL(b.l.stage))
	if err != nil {
		return fmt.Errorf("import: duplicates: %w", err)
	}
	var code string
	var at []int
	var dups []Rejection
	_, err = pgx.ForEachRow(rows, []any{&code, &at}, func() error {
		first := b.position(at[0])
		for _, n := range at[1:] {
			dups = append(dups, Rejection{Position: b.position(n), Code: code, Field: geo.KeyField,
				Reason: "duplicate code: " + first.String() + " has it too"})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import: duplicates: %w", err)
	}
	sortRejections(dups)
	b.rejected.add(dups)
	return nil
}

// write upserts the staged rows, then refreshes the rollups the upserts
// left to refresh, one province at a time, with the bulk mode off, and moves
// the versions of the counties they drew in. The planner's statistics of
// what was written are gathered after the upserts and after the refresh,
// for the statements that follow each.
func (b *bulk) write(ctx context.Context, tx pgx.Tx) error {
	b.progress(PhaseWriting, 0, len(b.l.sqlUpsert))
	var updated int
	if err := tx.QueryRow(ctx, b.l.sqlCount).Scan(&updated); err != nil {
		return fmt.Errorf("import: count: %w", err)
	}
	b.rep.Updated, b.rep.Inserted = updated, b.staged-updated
	for i, q := range b.l.sqlUpsert {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("import: upsert %s: %w", b.l.Name, err)
		}
		b.progress(PhaseWriting, i+1, len(b.l.sqlUpsert))
		if err := b.fail(PhaseWriting, i+1); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, sqlBulkOff); err != nil {
		return fmt.Errorf("import: bulk mode: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlAnalyze); err != nil {
		return fmt.Errorf("import: statistics: %w", err)
	}
	rows, err := tx.Query(ctx, sqlPendingProvinces)
	if err != nil {
		return fmt.Errorf("import: refresh: %w", err)
	}
	provinces, err := pgx.CollectRows(rows, pgx.RowTo[[]string])
	if err != nil {
		return fmt.Errorf("import: refresh: %w", err)
	}
	for i, counties := range provinces {
		b.progress(PhaseRefreshing, i, len(provinces))
		if _, err := tx.Exec(ctx, sqlRefreshRollups, counties); err != nil {
			return fmt.Errorf("import: refresh %v: %w", counties, err)
		}
		if err := b.fail(PhaseRefreshing, i+1); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, sqlBumpVersions); err != nil {
		return fmt.Errorf("import: county versions: %w", err)
	}
	// The rollups refreshed, which the checks at commit read.
	if _, err := tx.Exec(ctx, sqlAnalyze); err != nil {
		return fmt.Errorf("import: statistics: %w", err)
	}
	b.progress(PhaseRefreshing, len(provinces), len(provinces))
	return nil
}

// rejections keeps the first maxReported problems of a bulk load, in
// file order, and counts all of them and the features they concern.
type rejections struct {
	first    []Rejection
	total    int
	features map[string]bool
}

// newRejections starts an empty list of a bulk load's problems.
func newRejections() *rejections {
	return &rejections{first: []Rejection{}, features: map[string]bool{}}
}

// add records rs, each batch in file order; a later batch may still hold
// a problem of an earlier feature (a code given twice), so the list kept
// is sorted again.
func (r *rejections) add(rs []Rejection) {
	if len(rs) == 0 {
		return
	}
	r.total += len(rs)
	for _, x := range rs {
		r.features[x.Position.String()] = true
	}
	r.first = append(r.first, rs...)
	sortRejections(r.first)
	r.first = r.first[:min(len(r.first), maxReported)]
}

// error says how much of a file of received features was rejected.
func (r *rejections) error(received int) error {
	for _, x := range r.first {
		if x.Index == nil && x.Line == 0 {
			return geo.Errorf(geo.EInvalid, "the file cannot be imported: %s; nothing was imported", x.Reason)
		}
	}
	msg := fmt.Sprintf("%d of %d features rejected (%d problems", len(r.features), received, r.total)
	if r.total > len(r.first) {
		msg += ", the first " + strconv.Itoa(len(r.first)) + " listed"
	}
	return geo.Errorf(geo.EInvalid, "%s); nothing was imported", msg)
}
