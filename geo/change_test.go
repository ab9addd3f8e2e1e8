package geo_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"

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
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
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
