package geo_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const sqlActorSetting = `SELECT coalesce(current_setting('battlemap.actor', true), '')`

// TestChangeCarriesActor: the actor is known to the database inside the
// change's transaction, recorded in the audit row, and gone afterwards,
// so a pooled connection never carries it into another request.
func TestChangeCarriesActor(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	conn := pgtest.Acquire(t, pool)
	var inside string
	version, err := geo.Change(ctx, conn, geo.Actor{Name: "县级管理员 test"}, &geo.Audit{Action: "update", Table: "sites", RowKey: "520302-S01"},
		func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, sqlActorSetting).Scan(&inside); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE sites SET progress = progress WHERE code = '520302-S01'`)
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	if inside != "县级管理员 test" {
		t.Errorf("battlemap.actor inside the change = %q, want the actor", inside)
	}
	var after, audited string
	var auditVersion int64
	if err := conn.QueryRow(ctx, sqlActorSetting).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != "" {
		t.Errorf("battlemap.actor after the change = %q, want it gone", after)
	}
	if err := conn.QueryRow(ctx, `SELECT actor, data_version FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&audited, &auditVersion); err != nil {
		t.Fatal(err)
	}
	if audited != "县级管理员 test" || auditVersion != version {
		t.Errorf("audit row: actor %q at version %d, want the actor at %d", audited, auditVersion, version)
	}
	if _, err := geo.Change(ctx, pool, geo.Actor{Name: " "}, &geo.Audit{Action: "update", Table: "sites"}, func(pgx.Tx) error { return nil }); geo.ErrorCode(err) != geo.EInvalid {
		t.Errorf("a change without an actor: %v, want EInvalid", err)
	}
}

// TestReadsInsideCallerTransaction: geo's reads and changes run inside a
// transaction they are given and leave its end to the caller: a change
// rolled back by the caller leaves nothing, and reads in the same
// transaction see the change before it ends.
func TestReadsInsideCallerTransaction(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	before, err := geo.DrillDown(ctx, pool, "520304116203")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := geo.Change(ctx, tx, geo.Actor{Name: "test"}, &geo.Audit{Action: "update", Table: "villages", RowKey: "520304116203"},
		func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE villages SET poor_population = poor_population + 5 WHERE code = '520304116203'`)
			return err
		}); err != nil {
		t.Fatal(err)
	}
	inside, err := geo.DrillDown(ctx, tx, "520304116203")
	if err != nil {
		t.Fatalf("DrillDown inside the transaction: %v", err)
	}
	figure := func(r *geo.Region) int64 {
		var figures struct {
			PoorPopulation *int64 `json:"poor_population"`
		}
		if err := json.Unmarshal(r.Figures, &figures); err != nil || figures.PoorPopulation == nil {
			t.Fatalf("figures %s: no poor_population (%v)", r.Figures, err)
		}
		return *figures.PoorPopulation
	}
	if got, want := figure(inside), figure(before)+5; got != want {
		t.Errorf("inside the transaction: %d poor people, want %d", got, want)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := geo.DrillDown(ctx, pool, "520304116203")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := figure(after), figure(before); got != want {
		t.Errorf("after the caller's rollback: %d poor people, want %d", got, want)
	}
}

// TestChangeRetriesConflicts: a transaction PostgreSQL aborts for a
// deadlock (40P01) or a serialization failure (40001) is run again from
// the start, its earlier runs leaving nothing behind, up to three runs;
// then, or at once inside the caller's transaction, the error is
// EConflict. Any other error is never retried. The failures are raised
// by fn itself, after its update, the first failures times.
func TestChangeRetriesConflicts(t *testing.T) {
	const site = "520302-S01"
	tests := []struct {
		name     string
		sqlstate string
		failures int  // how many runs raise sqlstate
		inTx     bool // Change gets the caller's transaction
		runs     int  // how many times fn runs
		code     string
		applied  int // updates that remain, each with its summary and its row's audit rows
	}{
		{"deadlock once", "40P01", 1, false, 2, "", 1},
		{"serialization failure twice", "40001", 2, false, 3, "", 1},
		{"deadlock every time", "40P01", 99, false, 3, geo.EConflict, 0},
		{"deadlock in the caller's transaction", "40P01", 1, true, 1, geo.EConflict, 0},
		{"another error is not retried", "42P01", 1, false, 1, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := pgtest.New(t)
			ctx := context.Background()
			// moved counts the updates and the audit rows that remain: per
			// change applied, one character of the name, the summary row
			// and the trigger's row of the site.
			moved := func() int64 {
				t.Helper()
				var n int64
				if err := pool.QueryRow(ctx, `SELECT length(name) + (SELECT count(*) FROM audit_log) FROM sites WHERE code = $1`, site).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := moved()
			var db geo.DB = pool
			var tx pgx.Tx
			if tt.inTx {
				var err error
				if tx, err = pool.Begin(ctx); err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(ctx)
				db = tx
			}
			runs := 0
			_, err := geo.Change(ctx, db, geo.Actor{Name: "test"}, &geo.Audit{Action: "update", Table: "sites", RowKey: site},
				func(tx pgx.Tx) error {
					runs++
					if _, err := tx.Exec(ctx, `UPDATE sites SET name = name || '!' WHERE code = $1`, site); err != nil {
						return err
					}
					if runs > tt.failures {
						return nil
					}
					_, err := tx.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '`+tt.sqlstate+`'; END $$`)
					return err
				})
			if tt.inTx {
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			var pgErr *pgconn.PgError
			switch {
			case geo.ErrorCode(err) != tt.code:
				t.Errorf("error %v (code %q), want code %q", err, geo.ErrorCode(err), tt.code)
			case tt.code == "" && tt.applied == 0 && (!errors.As(err, &pgErr) || pgErr.Code != tt.sqlstate):
				t.Errorf("error %v, want PostgreSQL's %s as it is", err, tt.sqlstate)
			case tt.code == geo.EConflict && (!errors.As(err, &pgErr) || pgErr.Code != tt.sqlstate):
				t.Errorf("error %v, want it to unwrap to PostgreSQL's %s", err, tt.sqlstate)
			}
			if runs != tt.runs {
				t.Errorf("fn ran %d times, want %d", runs, tt.runs)
			}
			if got := moved() - before; got != int64(3*tt.applied) {
				t.Errorf("name and audit rows grew by %d, want %d", got, 3*tt.applied)
			}
		})
	}
}
