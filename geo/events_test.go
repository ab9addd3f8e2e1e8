package geo_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestPositionsFollowCommits commits two edits in the other order than
// they wrote their audit rows, with a reader following the log between
// the commits: the reader gets each change once, the one committed first
// first, and misses neither, although the later commit has the smaller
// audit id. A change gets its position only when it has committed and
// SequenceChanges has run.
func TestPositionsFollowCommits(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	a, b := pgtest.ApartVillages(t, pool)
	if _, err := geo.SequenceChanges(ctx, pool); err != nil {
		t.Fatal(err)
	}
	last, err := geo.LastEvent(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	// read follows the log as a stream does, and returns the features of
	// the changes it got.
	read := func() []string {
		t.Helper()
		if _, err := geo.SequenceChanges(ctx, pool); err != nil {
			t.Fatal(err)
		}
		events, err := geo.EventsSince(ctx, pool, last, 100)
		if err != nil {
			t.Fatal(err)
		}
		var features []string
		for _, e := range events {
			if e.ID <= last {
				t.Errorf("event %d after position %d", e.ID, last)
			}
			last = e.ID
			var change struct{ Feature string }
			if err := json.Unmarshal(e.JSON, &change); err != nil {
				t.Fatal(err)
			}
			features = append(features, change.Feature)
		}
		return features
	}

	first, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	if _, err := first.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`, a); err != nil {
		t.Fatal(err)
	}
	if got := read(); len(got) != 0 {
		t.Fatalf("changes before any commit: %v, want none", got)
	}
	if _, err := pool.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`, b); err != nil {
		t.Fatal(err)
	}
	if got := read(); len(got) != 1 || got[0] != b {
		t.Fatalf("changes after the second edit committed: %v, want [%s]", got, b)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := read(); len(got) != 1 || got[0] != a {
		t.Fatalf("changes after the first edit committed: %v, want [%s]", got, a)
	}
	var ids [2]int64
	if err := pool.QueryRow(ctx, `SELECT
		(SELECT max(id) FROM audit_log WHERE row_key = $1), (SELECT max(id) FROM audit_log WHERE row_key = $2)`, a, b).
		Scan(&ids[0], &ids[1]); err != nil || ids[0] > ids[1] {
		t.Errorf("audit ids %v (%v): the edit committed last should have written first", ids, err)
	}
}

// TestPositionsInBatches checks that a backlog of changes larger than a
// statement positions (a national import's) is positioned in full, in the
// order of the audit ids, each statement taking a batch of it.
func TestPositionsInBatches(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	if _, err := geo.SequenceChanges(ctx, pool); err != nil {
		t.Fatal(err)
	}
	const backlog = 25000
	if _, err := pool.Exec(ctx, `INSERT INTO audit_log (actor, action, table_name, row_key)
		SELECT 'loader', 'insert', 'villages', g::text FROM generate_series(1, $1::int) g`, backlog); err != nil {
		t.Fatal(err)
	}
	var one int64
	if err := pool.QueryRow(ctx, `SELECT sequence_changes(100)`).Scan(&one); err != nil || one != 100 {
		t.Fatalf("one batch of 100: %d positioned (%v)", one, err)
	}
	given, err := geo.SequenceChanges(ctx, pool)
	if err != nil || given != backlog-100 {
		t.Fatalf("SequenceChanges gave %d positions (%v), want the %d left", given, err, backlog-100)
	}
	var unpositioned, disordered int
	if err := pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE position IS NULL), count(*) FILTER (WHERE position <= before)
FROM (SELECT position, lag(position) OVER (ORDER BY id) AS before FROM audit_log) a`).Scan(&unpositioned, &disordered); err != nil {
		t.Fatal(err)
	}
	if unpositioned != 0 || disordered != 0 {
		t.Errorf("%d changes without a position, %d positioned before an older one", unpositioned, disordered)
	}
}

// TestChangesSince follows the log through Changes: after a wake-up, the
// changes committed since are served from what Changes read, and a
// subscriber further behind than that gets the same log from the
// database.
func TestChangesSince(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	a, b := pgtest.ApartVillages(t, pool)
	changes := geo.NewChanges(pool, slog.New(slog.DiscardHandler))
	defer changes.Close()
	wake, ok := changes.Subscribe()
	if !ok {
		t.Fatal("closed before use")
	}
	defer changes.Unsubscribe(wake)
	<-wake // listening: Changes has read the log's end
	start, err := geo.LastEvent(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{a, b} {
		if _, err := pool.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`, code); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(10 * time.Second)
	var got []geo.Event
	for len(got) < 2 {
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("changes after %d: %d, want 2", start, len(got))
		}
		if got, err = changes.Since(ctx, start, 100); err != nil {
			t.Fatal(err)
		}
	}
	want, err := geo.EventsSince(ctx, pool, start, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || got[0].ID != want[0].ID || got[1].ID != want[1].ID {
		t.Errorf("from memory: %d changes, from the log: %d", len(got), len(want))
	}
	// Further back than Changes has read: the database answers.
	older, err := changes.Since(ctx, 0, 5)
	first, ferr := geo.EventsSince(ctx, pool, 0, 5)
	if err != nil || ferr != nil || len(older) != 5 || len(first) != 5 || older[0].ID != first[0].ID || older[4].ID != first[4].ID {
		t.Errorf("the first changes of the log through Changes: %d (%v), want the log's 5 (%v)", len(older), err, ferr)
	}
}
