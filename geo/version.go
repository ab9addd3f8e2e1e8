package geo

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
)

// DataVersion is the number that moves whenever map data changes, and
// when it last moved. Tiles and caches key on the number; screens show
// the time.
type DataVersion struct {
	Version   int64     `json:"version"`
	ChangedAt time.Time `json:"changed_at"`
}

const sqlDataVersion = `SELECT version, changed_at FROM data_version`

// CurrentVersion reads the data version.
func CurrentVersion(ctx context.Context, db DB) (DataVersion, error) {
	var v DataVersion
	if err := db.QueryRow(ctx, sqlDataVersion).Scan(&v.Version, &v.ChangedAt); err != nil {
		return v, fmt.Errorf("geo: data version: %w", err)
	}
	return v, nil
}

// Versions tells the caches which data version is current. It works in
// one of two ways.
//
// Strict (the default): Current returns a version read by a query that
// started after Current was called, so a change committed before a
// request arrives is always seen and no cached answer older than a
// committed change is served — by any number of instances, since the
// database is the only clock. Requests that arrive together share one
// query, so the database sees at most one at a time; the price is a round
// trip per cache lookup.
//
// Notified (after Listen): Current returns the version read after the
// newest announcement on the channel battlemap_changes, which every
// change sends at commit, without a query of its own. A change is then
// seen once its announcement has arrived and the versions have been read
// again, usually within a few milliseconds of the commit; the round trip
// per request is gone. While the listening connection is down, Current
// falls back to strict reads.
//
// Beside the global version, every read returns each county's
// (Snapshot): tiles key on those of the counties they cover, so that a
// change in one county leaves the tiles of the others valid. In notified
// mode they are read again, once for all callers, when an announced
// version is newer than the snapshot's.
type Versions struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	// heard is the newest version read after an announcement, or 0 while
	// not listening.
	heard atomic.Int64
	// latest is the newest snapshot read, for notified mode.
	latest atomic.Pointer[Snapshot]

	mu      sync.Mutex
	pending *flight // not yet started: new callers join it
	running bool    // a goroutine is running flights
}

type flight struct {
	done chan struct{}
	snap *Snapshot
	err  error
}

// Snapshot is the data versions read at one instant: the global one, and
// each county's with where it lies.
type Snapshot struct {
	Global   int64
	Counties []CountyVersion
	// LSN is the primary's write-ahead log position as the versions were
	// read (a number of bytes): a replica that has replayed this far
	// shows them, and every change committed before (Replicas.Route).
	LSN int64
	// xact is the database snapshot the versions were read in, as text
	// (pg_current_snapshot: the transactions it sees as finished and as
	// running), or "" on a replica. A later read in the same snapshot
	// sees the same rows, since no transaction has finished since (what
	// one still running wrote is seen by neither), so it keeps these
	// versions without reading them.
	xact string
}

// CountyVersion is a county's data version and the bounding box of its
// boundary (WGS 84): a change moves the versions of the counties whose
// box meets what it drew (migrations/007_county_versions.sql).
type CountyVersion struct {
	Code    string
	Version int64
	Box     orb.Bound
}

// Covering is the stamp of an answer over box: the sum of the versions of
// the counties whose box meets it. Versions only grow, so the sum moves
// whenever one of them does, whatever order changes commit in.
func (s *Snapshot) Covering(box orb.Bound) int64 {
	var sum int64
	for _, c := range s.Counties {
		if c.Box.Intersects(box) {
			sum += c.Version
		}
	}
	return sum
}

// sqlSnapshot reads a Snapshot in one statement, in three steps, each
// taken only when the one before found something new, so that a read
// while nothing changes costs what it does over a city, whatever the
// number of counties:
//
//  1. The database snapshot the statement reads in, compared with $1, the
//     one the snapshot read before was read in: the same one means that
//     no transaction has finished since (a commit moves the newest
//     finished transaction or takes one off the running list), so every
//     row reads as it did, and the versions are not read (NULL). Not on a
//     replica, whose snapshots do not list the transactions running on
//     the primary.
//  2. The global version (data_version, the sum of every county's and of
//     other_version), one pass over the counties' versions.
//  3. The counties' versions and boxes, some thousands of rows over a
//     country, when the global version differs from $2, the snapshot
//     read before's: else they are that snapshot's (the arrays are NULL).
//     Versions only grow, so a sum that has not moved means that none of
//     them has.
//
// The position is read after the statement's snapshot is taken, so it is
// at or past every commit the versions show. On a database that is itself
// a replica (a read-only deployment) it is the position replayed.
const sqlSnapshot = `
WITH x AS MATERIALIZED (
    SELECT ((CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END) - '0/0'::pg_lsn)::bigint AS lsn,
           CASE WHEN NOT pg_is_in_recovery() THEN pg_current_snapshot()::text END AS xact
), v AS MATERIALIZED (
    SELECT d.version FROM x, data_version d WHERE x.xact IS NULL OR x.xact IS DISTINCT FROM $1::text
)
SELECT x.lsn, x.xact, v.version, c.codes, c.versions, c.xmin, c.ymin, c.xmax, c.ymax
FROM x LEFT JOIN v ON true
LEFT JOIN LATERAL (
    SELECT array_agg(code ORDER BY code) AS codes, array_agg(version ORDER BY code) AS versions,
           array_agg(min_lon ORDER BY code) AS xmin, array_agg(min_lat ORDER BY code) AS ymin,
           array_agg(max_lon ORDER BY code) AS xmax, array_agg(max_lat ORDER BY code) AS ymax
    FROM county_versions
    WHERE v.version IS DISTINCT FROM $2::bigint
) c ON v.version IS NOT NULL`

// readSnapshot reads the versions; last is the snapshot read before, or
// nil, whose versions it keeps when the database has not changed since
// and whose counties it keeps when none of their versions has moved.
func readSnapshot(ctx context.Context, db DB, last *Snapshot) (*Snapshot, error) {
	s := &Snapshot{}
	var xact *string
	var global *int64
	var codes []string
	var versions []int64
	var xmin, ymin, xmax, ymax []float64
	var lastXact *string
	var lastGlobal *int64
	if last != nil {
		lastGlobal = &last.Global
		if last.xact != "" {
			lastXact = &last.xact
		}
	}
	if err := db.QueryRow(ctx, sqlSnapshot, lastXact, lastGlobal).Scan(&s.LSN, &xact, &global,
		&codes, &versions, &xmin, &ymin, &xmax, &ymax); err != nil {
		return nil, fmt.Errorf("geo: data versions: %w", err)
	}
	if xact != nil {
		s.xact = *xact
	}
	if global == nil { // last's database snapshot (never NULL without last)
		s.Global, s.Counties = last.Global, last.Counties
		return s, nil
	}
	s.Global = *global
	if last != nil && s.Global == last.Global {
		s.Counties = last.Counties
		return s, nil
	}
	s.Counties = make([]CountyVersion, len(codes))
	for i := range codes {
		s.Counties[i] = CountyVersion{Code: codes[i], Version: versions[i],
			Box: orb.Bound{Min: orb.Point{xmin[i], ymin[i]}, Max: orb.Point{xmax[i], ymax[i]}}}
	}
	return s, nil
}

// NewVersions reads data versions from pool, strictly until Listen runs.
func NewVersions(pool *pgxpool.Pool, log *slog.Logger) *Versions {
	return &Versions{pool: pool, log: log}
}

// Current returns the current data version (see Versions for what
// "current" means in each mode), or ctx's error if it ends first.
func (v *Versions) Current(ctx context.Context) (int64, error) {
	if n := v.heard.Load(); n > 0 {
		return n, nil
	}
	s, err := v.read(ctx)
	if err != nil {
		return 0, err
	}
	return s.Global, nil
}

// Snapshot returns the current versions, the global one and each
// county's, as strictly as Current (see Versions).
func (v *Versions) Snapshot(ctx context.Context) (*Snapshot, error) {
	if n := v.heard.Load(); n > 0 {
		if s := v.latest.Load(); s != nil && s.Global >= n {
			return s, nil
		}
	}
	return v.read(ctx)
}

// read joins the next flight: a query that starts after the call.
func (v *Versions) read(ctx context.Context) (*Snapshot, error) {
	v.mu.Lock()
	f := v.pending
	if f == nil {
		f = &flight{done: make(chan struct{})}
		v.pending = f
		if !v.running {
			v.running = true
			go v.run()
		}
	}
	v.mu.Unlock()
	select {
	case <-f.done:
		return f.snap, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run starts pending flights one after another until none is left.
func (v *Versions) run() {
	for {
		v.mu.Lock()
		f := v.pending
		v.pending = nil
		if f == nil {
			v.running = false
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
		// No caller's context: the flight serves many callers, and one of
		// them leaving must not fail the others. statement_timeout bounds it.
		f.snap, f.err = readSnapshot(context.Background(), v.pool, v.latest.Load())
		if f.err == nil {
			v.keep(f.snap)
		}
		close(f.done)
	}
}

// Listen switches Versions to notified mode and keeps it there until ctx
// ends: it holds one connection that LISTENs for version announcements,
// reconnecting after a failure (strict reads serve meanwhile).
func (v *Versions) Listen(ctx context.Context) {
	for backoff := time.Second; ctx.Err() == nil; {
		err := v.listenOnce(ctx)
		v.heard.Store(0)
		if ctx.Err() != nil {
			return
		}
		v.log.Warn("data version listener lost; reading versions per request until it is back",
			slog.Any("err", err), slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// listenOnce listens on one connection until it fails or ctx ends. The
// versions are read after LISTEN, so no announcement falls between them,
// and again after every announcement: a change announces that it
// committed, not the version it moved to, which only a read after its
// commit can tell (the global version is a sum that concurrent changes
// each move).
func (v *Versions) listenOnce(ctx context.Context) error {
	conn, err := v.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection is ours for good: a listening session must not go
	// back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, "LISTEN battlemap_changes"); err != nil {
		return err
	}
	s, err := readSnapshot(ctx, pc, v.latest.Load())
	if err != nil {
		return err
	}
	v.keep(s)
	v.raise(s.Global)
	v.log.Info("listening for data changes", slog.Int64("version", s.Global))
	for {
		if _, err := pc.WaitForNotification(ctx); err != nil {
			return err
		}
		if s, err = readSnapshot(ctx, pc, v.latest.Load()); err != nil {
			return err
		}
		v.keep(s)
		v.raise(s.Global)
	}
}

// keep records s as the latest snapshot unless a newer one is kept
// already. One of the same versions is replaced, so that the next read
// compares its database snapshot with the newest.
func (v *Versions) keep(s *Snapshot) {
	for {
		old := v.latest.Load()
		if old != nil && old.Global > s.Global || v.latest.CompareAndSwap(old, s) {
			return
		}
	}
}

// raise records version unless a newer one was recorded already.
func (v *Versions) raise(version int64) {
	for {
		old := v.heard.Load()
		if version <= old || v.heard.CompareAndSwap(old, version) {
			return
		}
	}
}
