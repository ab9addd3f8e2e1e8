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
