package geo

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Event is one change to a feature, as screens follow it: its position
// in the change log (given after commit, in the order changes became
// visible: see migrations/008_county_writes.sql) and the change as JSON,
// which PostgreSQL writes: {"id" (the position), "at", "action", "layer"
// (the collection: villages, townships, counties, sites, projects,
// assignments, hazard_zones, roads, services), "feature" (its id),
// "regions" (the lineage of the region it lay in, top first), "version"
// (the data version the change moved to)}.
type Event struct {
	ID   int64
	JSON []byte
}

// sqlEvents reads the changes after a position, in order. Users and an
// import's summary row are no features' changes.
const sqlEvents = `
SELECT a.position, json_build_object(
    'id', a.position, 'at', a.at, 'action', a.action,
    'layer', CASE a.table_name
        WHEN 'regions' THEN coalesce((SELECT CASE r.level WHEN 'village' THEN 'villages' WHEN 'township' THEN 'townships'
                                                          WHEN 'county' THEN 'counties' ELSE 'regions' END
                                      FROM regions r WHERE r.code = a.row_key), 'regions')
        WHEN 'relocation_assignments' THEN 'assignments'
        ELSE a.table_name END,
    'feature', a.row_key, 'regions', a.lineage, 'version', a.data_version)::text
FROM audit_log a
WHERE a.position > $1 AND a.row_key IS NOT NULL AND a.table_name <> 'users'
ORDER BY a.position
LIMIT $2`

// sqlLastEvent is the newest position of the change log.
const sqlLastEvent = `SELECT coalesce(max(position), 0) FROM audit_log`

// sqlSequence gives positions to at most $1 of the committed changes
// that have none, the oldest first.
const sqlSequence = `SELECT sequence_changes($1)`

// positionsPerStatement is how many changes one statement of
// SequenceChanges positions at most: a national import commits 1.3
// million audit rows at once, more than one statement positions within
// the statement timeout (migrations/032_positions_in_batches.sql).
const positionsPerStatement = 10000

// SequenceChanges gives the changes committed since it last ran their
// positions in the change log, a batch per statement until none is left,
// and returns how many it gave. Until it runs, a committed change is not
// in the log that EventsSince reads; the Changes of every instance run it
// when they hear of a commit, so a change made anywhere, even in plain
// SQL, gets its position within moments.
func SequenceChanges(ctx context.Context, db DB) (int64, error) {
	var given int64
	for {
		var n int64
		if err := db.QueryRow(ctx, sqlSequence, positionsPerStatement).Scan(&n); err != nil {
			return given, fmt.Errorf("events: positions: %w", err)
		}
		if given += n; n < positionsPerStatement {
			return given, nil
		}
	}
}

// LastEvent is the newest position of the change log: where a stream
// that does not resume starts. What has committed without a position yet
// is given one first, so that a new stream does not get the changes made
// before it began.
func LastEvent(ctx context.Context, db DB) (int64, error) {
	if _, err := SequenceChanges(ctx, db); err != nil {
		return 0, err
	}
	var last int64
	if err := db.QueryRow(ctx, sqlLastEvent).Scan(&last); err != nil {
		return 0, fmt.Errorf("events: %w", err)
	}
	return last, nil
}

// EventsSince reads at most limit changes after position after, in order.
func EventsSince(ctx context.Context, db DB, after int64, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, sqlEvents, after, limit)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		var s string
		err := row.Scan(&e.ID, &s)
		e.JSON = []byte(s)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return events, nil
}

// Changes tells this instance's subscribers when changes may have been
// committed: it LISTENs on battlemap_changes, which every change
// announces at commit, and, while it cannot listen, wakes them every few
// seconds instead. Before each wake-up it gives the committed changes
// their positions (SequenceChanges) and reads the new ones from the log,
// once for all subscribers, keeping the latest in memory. A subscriber
// then asks for what follows the last position it has (Since): the log,
// not the announcement, says what changed, so nothing is missed between
// a subscription and its first read, and a subscriber that is slow only
// reads more at once; one that is further behind than what is kept is
// served from the database.
type Changes struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	mu      sync.Mutex
	subs    map[chan struct{}]struct{}
	started bool
	stop    context.CancelFunc
	closed  bool
	// recent are the changes after position from, in order, up to end:
	// every change of the log in (from, end], when known.
	recent    []Event
	from, end int64
	known     bool
}

// keptEvents is how many of the latest changes Changes keeps for its
// subscribers: a few hundred kilobytes, more than a burst of edits, less
// than an import, whose readers go to the database.
const keptEvents = 4096

// readBatch is how many changes Changes reads from the log at once.
const readBatch = 500

// pollEvery is how often subscribers are woken while the listener is
// down.
const pollEvery = 2 * time.Second

// NewChanges follows the change log of pool's database; it starts
// listening with the first subscription.
func NewChanges(pool *pgxpool.Pool, log *slog.Logger) *Changes {
	return &Changes{pool: pool, log: log, subs: map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives a value whenever changes may
// have been committed (several announcements may come as one), and is
// closed when the Changes close. ok is false once they have.
func (c *Changes) Subscribe() (wake <-chan struct{}, ok bool) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, false
	}
	c.subs[ch] = struct{}{}
	if !c.started {
		c.started = true
		ctx, cancel := context.WithCancel(context.Background())
		c.stop = cancel
		go c.run(ctx)
	}
	return ch, true
}

// Unsubscribe ends the subscription whose channel is wake.
func (c *Changes) Unsubscribe(wake <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		if ch == wake {
			delete(c.subs, ch)
			close(ch)
		}
	}
}

// Close ends every subscription and stops following the log: a server
// shutting down ends its event streams this way.
func (c *Changes) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for ch := range c.subs {
		delete(c.subs, ch)
		close(ch)
	}
	if c.stop != nil {
		c.stop()
	}
}

// Since returns at most limit changes after position after, in order:
// from memory when Changes has read them (none when it has read nothing
// after after yet: a wake-up follows when it has), else from the
// database.
func (c *Changes) Since(ctx context.Context, after int64, limit int) ([]Event, error) {
	c.mu.Lock()
	if c.known && after >= c.from {
		defer c.mu.Unlock()
		i, _ := slices.BinarySearchFunc(c.recent, after+1, func(e Event, p int64) int { return cmp.Compare(e.ID, p) })
		j := min(i+limit, len(c.recent))
		// Capped: what is appended later does not show through.
		return c.recent[i:j:j], nil
	}
	c.mu.Unlock()
	return EventsSince(ctx, c.pool, after, limit)
}

// catchUp reads the changes after the last one kept into recent; at
// first, and after a failure, it starts at the log's end. Only the
// goroutine that runs the listener calls it.
func (c *Changes) catchUp(ctx context.Context) error {
	c.mu.Lock()
	known, end := c.known, c.end
	c.mu.Unlock()
	if !known {
		last, err := LastEvent(ctx, c.pool)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.recent, c.from, c.end, c.known = nil, last, last, true
		c.mu.Unlock()
		return nil
	}
	for {
		events, err := EventsSince(ctx, c.pool, end, readBatch)
		if err != nil {
			c.mu.Lock()
			c.known = false
			c.mu.Unlock()
			return err
		}
		if len(events) > 0 {
			end = events[len(events)-1].ID
			c.mu.Lock()
			c.recent = append(c.recent, events...)
			if drop := len(c.recent) - keptEvents; drop > 0 {
				c.from = c.recent[drop-1].ID
				c.recent = slices.Clone(c.recent[drop:])
			}
			c.end = end
			c.mu.Unlock()
		}
		if len(events) < readBatch {
			return nil
		}
	}
}

// wakeAll gives positions to what was committed and reads the new
// changes, then wakes every subscriber; one that has a wake-up pending
// keeps that one. A failure is logged, and the subscribers are woken all
// the same: they then read from the database what they can.
func (c *Changes) wakeAll(ctx context.Context) {
	if _, err := SequenceChanges(ctx, c.pool); err != nil && ctx.Err() == nil {
		c.log.Warn("could not give committed changes their positions", slog.Any("err", err))
	}
	if err := c.catchUp(ctx); err != nil && ctx.Err() == nil {
		c.log.Warn("could not read the change log", slog.Any("err", err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// run follows the announcements until ctx ends, waking the subscribers
// every pollEvery while it cannot listen.
func (c *Changes) run(ctx context.Context) {
	for backoff := time.Second; ctx.Err() == nil; {
		err := c.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("change listener lost; screens are woken every few seconds until it is back",
			slog.Any("err", err), slog.Duration("retry_in", backoff))
		retry := time.After(backoff)
		tick := time.NewTicker(pollEvery)
	poll:
		for {
			select {
			case <-ctx.Done():
				tick.Stop()
				return
			case <-retry:
				break poll
			case <-tick.C:
				c.wakeAll(ctx)
			}
		}
		tick.Stop()
		backoff = min(2*backoff, 30*time.Second)
	}
}

// listen listens on one connection until it fails or ctx ends. The
// subscribers are woken once LISTEN is in place, for whatever committed
// before it.
func (c *Changes) listen(ctx context.Context) error {
	conn, err := c.pool.Acquire(ctx)
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
	c.wakeAll(ctx)
	for {
		if _, err := pc.WaitForNotification(ctx); err != nil {
			return err
		}
		c.wakeAll(ctx)
	}
}
