package geo_test

import (
	"context"
	"testing"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestSnapshotKeepsCounties: a strict read of the versions keeps the
// counties of the read before while none of their versions has moved (a
// country's thousands of rows are not read for every tile), and reads
// them again after an edit, with the database's versions.
func TestSnapshotKeepsCounties(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	versions := pgtest.Versions(t, pool, "query")
	snap := func() *geo.Snapshot {
		t.Helper()
		s, err := versions.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Counties) == 0 {
			t.Fatal("a snapshot without counties")
		}
		return s
	}
	first, again := snap(), snap()
	if again.Global != first.Global || &again.Counties[0] != &first.Counties[0] {
		t.Errorf("nothing changed, yet the counties were read again (global %d, then %d)", first.Global, again.Global)
	}
	var county string
	if err := pool.QueryRow(ctx, `UPDATE villages SET cooperatives = cooperatives + 1
		WHERE code = (SELECT min(code) FROM villages) RETURNING county_code`).Scan(&county); err != nil {
		t.Fatal(err)
	}
	after := snap()
	if after.Global <= first.Global || &after.Counties[0] == &first.Counties[0] {
		t.Fatalf("after an edit: global %d (was %d), counties kept: %v", after.Global, first.Global, &after.Counties[0] == &first.Counties[0])
	}
	for i, c := range after.Counties {
		var want int64
		if err := pool.QueryRow(ctx, `SELECT version FROM county_versions WHERE code = $1`, c.Code).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if c.Version != want {
			t.Errorf("county %s: version %d in the snapshot, %d in the database", c.Code, c.Version, want)
		}
		if c.Code == county && c.Version == first.Counties[i].Version {
			t.Errorf("the edited county %s kept its version %d", county, c.Version)
		}
	}
}

// TestSnapshotSeesRunningCommits: a strict read keeps the versions of the
// read before only while no transaction has finished since; one that was
// running at that read (its versions moved but not committed) and commits
// after it is seen by the next read, and a transaction that changes no
// versions leaves them as they were.
func TestSnapshotSeesRunningCommits(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	versions := pgtest.Versions(t, pool, "query")
	county := func(s *geo.Snapshot, code string) int64 {
		t.Helper()
		for _, c := range s.Counties {
			if c.Code == code {
				return c.Version
			}
		}
		t.Fatalf("county %s not in the snapshot", code)
		return 0
	}
	snap := func() *geo.Snapshot {
		t.Helper()
		s, err := versions.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var code string
	if err := tx.QueryRow(ctx, `UPDATE villages SET cooperatives = cooperatives + 1
		WHERE code = (SELECT min(code) FROM villages) RETURNING county_code`).Scan(&code); err != nil {
		t.Fatal(err)
	}
	before := snap()
	if again := snap(); again.Global != before.Global || county(again, code) != county(before, code) {
		t.Fatalf("an uncommitted edit was seen: global %d, then %d", before.Global, again.Global)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	after := snap()
	if after.Global <= before.Global || county(after, code) <= county(before, code) {
		t.Fatalf("an edit running at the read before and committed since was not seen: global %d, then %d; county %s %d, then %d",
			before.Global, after.Global, code, county(before, code), county(after, code))
	}
	// A transaction that moves no version (txid_current gives it an id,
	// as any write does) changes the database snapshot as it commits, not
	// the versions.
	if _, err := pool.Exec(ctx, `SELECT txid_current()`); err != nil {
		t.Fatal(err)
	}
	if again := snap(); again.Global != after.Global || &again.Counties[0] != &after.Counties[0] {
		t.Errorf("a transaction that changed no data moved the versions (global %d, then %d) or read the counties again",
			after.Global, again.Global)
	}
}
