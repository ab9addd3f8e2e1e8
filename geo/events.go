package geo

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Event is one change to a feature, as screens follow it: its position
// in the change log (the audit row's id, in commit order: see
// migrations/006_events.sql) and the change as JSON, which PostgreSQL
// writes: {"id", "at", "action", "layer" (the collection: villages,
// townships, counties, sites, projects, assignments, hazard_zones, roads,
// services), "feature" (its id),
// "regions" (the lineage of the region it lay in, top first), "version"
// (the data version the change moved to)}.
type Event struct {
	ID   int64
	JSON []byte
}

// sqlEvents reads the changes after a position, in order. Users and an
// import's summary row are no features' changes.
const sqlEvents = `
SELECT a.id, json_build_object(
    'id', a.id, 'at', a.at, 'action', a.action,
    'layer', CASE a.table_name
        WHEN 'regions' THEN coalesce((SELECT CASE r.level WHEN 'village' THEN 'villages' WHEN 'township' THEN 'townships'
                                                          WHEN 'county' THEN 'counties' ELSE 'regions' END
                                      FROM regions r WHERE r.code = a.row_key), 'regions')
        WHEN 'relocation_assignments' THEN 'assignments'
        ELSE a.table_name END,
    'feature', a.row_key, 'regions', a.lineage, 'version', a.data_version)::text
FROM audit_log a
WHERE a.id > $1 AND a.row_key IS NOT NULL AND a.table_name <> 'users'
ORDER BY a.id
LIMIT $2`

// sqlLastEvent is the newest position of the change log.
const sqlLastEvent = `SELECT coalesce(max(id), 0) FROM audit_log`

// LastEvent is the newest position of the change log: where a stream
// that does not resume starts.
func LastEvent(ctx context.Context, db DB) (int64, error) {
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
// seconds instead. A subscriber then reads the log after the last
// position it has (EventsSince): the log, not the announcement, says
// what changed, so nothing is missed between a subscription and its
// first read, and a subscriber that is slow only reads more at once.
type Changes struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	mu      sync.Mutex
	subs    map[chan struct{}]struct{}
	started bool
	stop    context.CancelFunc
	closed  bool
}

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

// wakeAll wakes every subscriber; one that has a wake-up pending keeps
// that one.
func (c *Changes) wakeAll() {
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
				c.wakeAll()
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
	c.wakeAll()
	for {
		if _, err := pc.WaitForNotification(ctx); err != nil {
			return err
		}
		c.wakeAll()
	}
}
