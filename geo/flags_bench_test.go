package geo_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// The costs the consistency flags add to a change: every change
// computes the flags of the subjects it touched again, from their
// history, as its transaction ends (migrations/018_flags.sql).

// BenchmarkRefreshFlagsVillage computes the flags of a village, its
// township and its county again, as a change of the village's figures
// does at its end (rolled back each time, so each run starts from the
// same rows).
func BenchmarkRefreshFlagsVillage(b *testing.B) {
	benchmarkRefreshFlags(b, `SELECT refresh_flags(ARRAY['520322101200', '520322101', '520322'])`)
}

// BenchmarkRefreshFlagsAll computes every flag again, as a change of an
// exit standard or a load of the whole data set does.
func BenchmarkRefreshFlagsAll(b *testing.B) {
	benchmarkRefreshFlags(b, `SELECT refresh_flags(NULL)`)
}

func benchmarkRefreshFlags(b *testing.B, sql string) {
	pool := pgtest.New(b)
	ctx := context.Background()
	for b.Loop() {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
			return errRollback
		})
		if err != errRollback {
			b.Fatal(err)
		}
	}
}

// BenchmarkVillageEdit is one edit of a village's figures through
// geo.Change, committed: the rollups, the history, the audit and the
// village's, its township's and its county's flags, as an edit pays for
// them ("flags"); and the same with the flags' refresh switched off in
// this throwaway database ("no_flags"), which is what the flags cost an
// edit.
func BenchmarkVillageEdit(b *testing.B) {
	for _, refresh := range []bool{true, false} {
		name := map[bool]string{true: "flags", false: "no_flags"}[refresh]
		b.Run(name, func(b *testing.B) {
			pool := pgtest.New(b)
			ctx := context.Background()
			if !refresh {
				if _, err := pool.Exec(ctx, `ALTER TABLE flags_pending_transactions DISABLE TRIGGER flags_pending_refresh`); err != nil {
					b.Fatal(err)
				}
			}
			const village = "520322101200" // a poverty village of 桐梓县
			actor := geo.Actor{Name: "bench", All: true}
			n := 0
			for b.Loop() {
				n++
				if _, err := geo.Change(ctx, pool, actor, nil, func(tx pgx.Tx) error {
					_, err := tx.Exec(ctx, `UPDATE villages SET poor_population = poor_population + $2 WHERE code = $1`, village, 1-2*(n%2))
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// errRollback ends a benchmark's transaction without committing it.
var errRollback = rollback{}

type rollback struct{}

func (rollback) Error() string { return "rolled back" }
