package tiles

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Versions reads the database's data version for cache lookups, sharing
// one query among all requests that arrive while it waits to run.
//
// The guarantee: Current returns a version read by a query that started
// after Current was called. A change committed before a request arrives
// is therefore always seen, so a cached tile older than a committed change
// is never served — across any number of server instances, since the
// database is the only clock. Requests that arrive together wait for the
// same query, so the database sees at most one such query at a time.
type Versions struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	pending *flight // not yet started: new callers join it
	running bool    // a goroutine is running flights
}

type flight struct {
	done    chan struct{}
	version int64
	err     error
}

// NewVersions reads data versions from pool.
func NewVersions(pool *pgxpool.Pool) *Versions {
	return &Versions{pool: pool}
}

// Current returns the data version as of some moment after the call
// began, or ctx's error if it ends first.
func (v *Versions) Current(ctx context.Context) (int64, error) {
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
		return f.version, f.err
	case <-ctx.Done():
		return 0, ctx.Err()
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
		err := v.pool.QueryRow(context.Background(), `SELECT version FROM data_version`).Scan(&f.version)
		if err != nil {
			f.err = fmt.Errorf("tiles: data version: %w", err)
		}
		close(f.done)
	}
}
