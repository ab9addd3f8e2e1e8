package geo_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// flagStep is one change of a flag scenario: its statements (@code is
// the scenario's subject), made through geo.Change by an admin, dated by
// battlemap.valid_from at at, or now when at is empty; reason, when set,
// is the admin's written reason (battlemap.reason).
type flagStep struct {
	at     string
	reason string
	sql    []string
}

// run makes the change, and returns the moments around it, between
// which an undated change takes effect, and its transaction.
func (s flagStep) run(t *testing.T, pool geo.DB, code string) (from, to time.Time, txid int64) {
	t.Helper()
	from = time.Now()
	txid, err := s.change(pool, code, s.reason)
	if err != nil {
		t.Fatalf("change dated %q: %v", s.at, err)
	}
	return from, time.Now(), txid
}

// change makes the change with reason as the admin's written reason, and
// returns its transaction.
func (s flagStep) change(pool geo.DB, code, reason string) (txid int64, err error) {
	ctx := context.Background()
	_, err = geo.Change(ctx, pool, flagAdmin, nil, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT txid_current(), set_config('battlemap.valid_from', $1, true), set_config('battlemap.reason', $2, true)`,
			s.at, reason).Scan(&txid, nil, nil); err != nil {
			return err
		}
		for _, q := range s.sql {
			if _, err := tx.Exec(ctx, q, pgx.NamedArgs{"code": code}); err != nil {
				return err
			}
		}
		return nil
	})
	return txid, err
}

// flagAdmin makes the scenarios' changes: an admin, who alone may
// override the exit standard.
var flagAdmin = geo.Actor{Name: "test admin", All: true}

// The moments the scenarios' dated changes take effect: after the demo's
// half-year, in the past.
const (
	flagRaiseAt = "2019-03-01T18:00:00+08:00"
	flagClearAt = "2019-06-03T18:00:00+08:00"
)

// Statements of the scenarios that restore a row's version before the
// current one, so that a scenario undoes what it did without knowing the
// figures it started from.
const (
	restoreVillage = `UPDATE villages v SET poor_population = h.poor_population, poor_households = h.poor_households
		FROM villages_history h WHERE v.code = @code AND h.code = v.code
		AND upper(h.valid) = (SELECT lower(valid) FROM villages_history WHERE code = @code AND upper_inf(valid))`
	// restoreAssignment restores the assignments of site or village
	// @code whose versions a scenario changed.
	restoreAssignment = `UPDATE relocation_assignments a SET people = h.people, households = h.households
		FROM relocation_assignments_history h, relocation_assignments_history n
		WHERE @code IN (a.site_code, a.village_code) AND (h.village_code, h.site_code) = (a.village_code, a.site_code)
		  AND (n.village_code, n.site_code) = (a.village_code, a.site_code) AND upper_inf(n.valid) AND upper(h.valid) = lower(n.valid)`
	// overAssign assigns ten people more than village @code has to its
	// largest assignment.
	overAssign = `UPDATE relocation_assignments a
		SET people = a.people + v.population - (SELECT sum(people) FROM relocation_assignments WHERE village_code = @code) + 10
		FROM villages v WHERE v.code = @code AND a.village_code = @code
		  AND a.site_code = (SELECT site_code FROM relocation_assignments WHERE village_code = @code ORDER BY people DESC, site_code LIMIT 1)`
	// exitVillage marks village @code exited in 2019.
	exitVillage = `UPDATE regions SET poverty_status = 'exited', exit_year = 2019 WHERE code = @code`
	// unflagged keeps a scenario away from the demo's own flags.
	unflagged = `NOT EXISTS (SELECT FROM flags f WHERE f.subject_code = x.code OR f.lineage @> ARRAY[x.code])`
)

// TestFlagRules makes each consistency rule hold for one subject of the
// demo through changes of the data, dated in the past or made now, and
// then stop: the flag is raised when the rule first held, with the facts
// it judged, is cleared when it stopped, and is among the flags as of a
// moment (as_of.flags, read through a past pool) only within its span.
// A write the database refuses is shown refused first: an exit below the
// standard without an admin's reason, and an assignment of more people
// than a village has. The latter's rule (over_assigned) exists for
// history written before that trigger; here the owner disables the
// trigger inside the change's own transaction, and enables it again
// before the commit, so that the flag is found through the same write
// path, history and end-of-transaction refresh as every other change
// rather than through history rows written by hand.
func TestFlagRules(t *testing.T) {
	tests := []struct {
		name, rule string
		// pick selects the subject: its code, and a part of the facts
		// the flag must hold, as JSON.
		pick string
		// refused, when set, is a statement the database refuses as it
		// stands: made now, it must fail and write nothing.
		refused string
		raise   flagStep
		// raised is when the flag is raised, when not at raise's moment.
		raised string
		clear  flagStep
		// none: the rule must not hold after raise (and clear is not run).
		none bool
	}{
		{
			name: "exited village above the standard", rule: "exit_below_standard",
			pick: `SELECT x.code, jsonb_build_object('population', x.population, 'poor_population', ceil(x.population * 0.04)::int,
				'max_incidence', 0.03) FROM villages x JOIN regions r USING (code)
				WHERE r.poverty_status = 'exited' AND x.population >= 1000 AND ` + unflagged + ` ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: flagRaiseAt, sql: []string{`UPDATE villages SET poor_population = ceil(population * 0.04) WHERE code = @code`}},
			// Made now: the flag clears at the change.
			clear: flagStep{sql: []string{`UPDATE villages SET poor_population = floor(population * 0.02),
				poor_households = least(poor_households, floor(population * 0.02)) WHERE code = @code`}},
		},
		{
			// One of its villages returns to poverty (返贫): fewer than 90%
			// of its poverty villages are exited; it exits again.
			name: "exited township with too few villages exited", rule: "exit_below_standard",
			pick: `SELECT x.code, jsonb_build_object('poverty_villages', x.villages_exited + x.villages_not_exited,
				'exited_villages', x.villages_exited - 1, 'min_villages_exited', 0.9)
				FROM region_rollups x JOIN regions r USING (code)
				WHERE r.level = 'township' AND r.poverty_status = 'exited' AND x.villages_exited >= 1
				  AND x.villages_exited - 1 < 0.9 * (x.villages_exited + x.villages_not_exited) AND ` + unflagged + `
				ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: flagRaiseAt, sql: []string{`UPDATE regions SET poverty_status = 'not_exited', exit_year = NULL
				WHERE code = (SELECT code FROM regions WHERE parent_code = @code AND poverty_status = 'exited' ORDER BY code LIMIT 1)`}},
			clear: flagStep{at: flagClearAt, sql: []string{`UPDATE regions SET poverty_status = 'exited', exit_year = 2019
				WHERE code = (SELECT region_code FROM registry_events WHERE kind = 'return' ORDER BY id DESC LIMIT 1)`}},
		},
		{
			name: "exit over the standard with an admin's reason", rule: "exit_override",
			pick: `SELECT x.code, jsonb_build_object('reason', '县扶贫开发领导小组决定', 'actor', 'test admin', 'max_incidence', 0.03)
				FROM villages x JOIN regions r USING (code) WHERE r.poverty_status = 'not_exited' AND ` + unflagged + `
				ORDER BY x.code LIMIT 1`,
			refused: exitVillage,
			raise:   flagStep{at: flagRaiseAt, reason: "县扶贫开发领导小组决定", sql: []string{exitVillage}},
			// Its return to poverty is registered: it no longer stands exited.
			clear: flagStep{at: flagClearAt, sql: []string{`UPDATE regions SET poverty_status = 'not_exited', exit_year = NULL WHERE code = @code`}},
		},
		{
			name: "poor population cut by three fifths", rule: "sudden_cut",
			pick: `SELECT x.code, jsonb_build_object('poor_population_before', x.poor_population, 'poor_population', x.poor_population * 2 / 5)
				FROM villages x JOIN regions r USING (code)
				WHERE r.poverty_status = 'not_exited' AND x.poor_population >= 50 AND ` + unflagged + ` ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: flagRaiseAt, sql: []string{`UPDATE villages SET poor_population = poor_population * 2 / 5,
				poor_households = least(poor_households, poor_population * 2 / 5) WHERE code = @code`}},
			// The figure is corrected back.
			clear: flagStep{at: flagClearAt, sql: []string{restoreVillage}},
		},
		{
			// Cut as much, but the village exits in the same change: the
			// cut is explained, and no flag is raised.
			name: "poor population cut with the village's exit", rule: "sudden_cut", none: true,
			pick: `SELECT x.code, '{}' FROM villages x JOIN regions r USING (code)
				WHERE r.poverty_status = 'not_exited' AND x.poor_population >= 50 AND ` + unflagged + ` ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: flagRaiseAt, sql: []string{`UPDATE villages SET poor_population = floor(population * 0.02),
				poor_households = least(poor_households, floor(population * 0.02)) WHERE code = @code`, exitVillage}},
		},
		{
			name: "funds disbursed 40 points ahead of completion", rule: "funds_ahead",
			pick: `SELECT x.code, jsonb_build_object('completion', x.completion, 'funds_disbursed', x.funds_planned * (x.completion + 40) / 100)
				FROM projects x WHERE x.status = 'under_construction' AND x.completion BETWEEN 10 AND 50 AND ` + unflagged + `
				ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: flagRaiseAt, sql: []string{`UPDATE projects SET funds_disbursed = funds_planned * (completion + 40) / 100 WHERE code = @code`}},
			clear: flagStep{at: flagClearAt, sql: []string{`UPDATE projects SET completion = completion + 40 WHERE code = @code`}},
		},
		{
			name: "project at 100% not marked completed", rule: "completion_not_marked",
			pick: `SELECT x.code, jsonb_build_object('completion', 100, 'status', 'under_construction')
				FROM projects x WHERE x.status = 'under_construction' AND ` + unflagged + ` ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: flagRaiseAt, sql: []string{`UPDATE projects SET completion = 100, funds_disbursed = funds_planned WHERE code = @code`}},
			clear: flagStep{at: flagClearAt, sql: []string{`UPDATE projects SET status = 'completed' WHERE code = @code`}},
		},
		{
			name: "completed project half paid", rule: "completed_underfunded",
			pick: `SELECT x.code, jsonb_build_object('status', 'completed', 'funds_disbursed', x.funds_planned / 2)
				FROM projects x WHERE x.status = 'completed' AND ` + unflagged + ` ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: flagRaiseAt, sql: []string{`UPDATE projects SET funds_disbursed = funds_planned / 2 WHERE code = @code`}},
			clear: flagStep{sql: []string{`UPDATE projects SET funds_disbursed = funds_planned WHERE code = @code`}},
		},
		{
			name: "completed site at 95%", rule: "site_done_unbuilt",
			pick: `SELECT x.code, jsonb_build_object('status', 'completed', 'progress', 95)
				FROM sites x WHERE x.status = 'completed' AND ` + unflagged + ` ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: flagRaiseAt, sql: []string{`UPDATE sites SET progress = 95 WHERE code = @code`}},
			clear: flagStep{at: flagClearAt, sql: []string{`UPDATE sites SET progress = 100 WHERE code = @code`}},
		},
		{
			// Its largest assignment is cut to five people fewer than have
			// moved in; then restored.
			name: "more people moved into a site than assigned", rule: "site_overfilled",
			pick: `SELECT x.code, jsonb_build_object('moved_in_people', x.moved_in_people, 'assigned_people', x.moved_in_people - 5)
				FROM sites x WHERE x.status = 'occupied' AND ` + unflagged + `
				  AND (SELECT max(people) - sum(people) FROM relocation_assignments WHERE site_code = x.code) + x.moved_in_people - 5 > 0
				ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: flagRaiseAt, sql: []string{`UPDATE relocation_assignments a
				SET people = a.people - d.cut, households = least(a.households, a.people - d.cut)
				FROM (SELECT (SELECT sum(people) FROM relocation_assignments WHERE site_code = @code) - moved_in_people + 5 AS cut
				      FROM sites WHERE code = @code) d
				WHERE a.site_code = @code
				  AND a.village_code = (SELECT village_code FROM relocation_assignments WHERE site_code = @code ORDER BY people DESC, village_code LIMIT 1)`}},
			clear: flagStep{at: flagClearAt, sql: []string{restoreAssignment}},
		},
		{
			name: "more people assigned than a village has", rule: "over_assigned",
			pick: `SELECT x.code, jsonb_build_object('population', x.population, 'assigned_people', x.population + 10)
				FROM villages x WHERE EXISTS (SELECT FROM relocation_assignments a WHERE a.village_code = x.code) AND ` + unflagged + `
				ORDER BY x.code LIMIT 1`,
			refused: overAssign,
			raise: flagStep{at: flagRaiseAt, sql: []string{
				`ALTER TABLE relocation_assignments DISABLE TRIGGER relocation_assignments_within_population_upd`,
				overAssign,
				`ALTER TABLE relocation_assignments ENABLE TRIGGER relocation_assignments_within_population_upd`}},
			clear: flagStep{at: flagClearAt, sql: []string{restoreAssignment}},
		},
		{
			// Its project moves in February; its figure, unchanged since
			// 2016, is updated in May.
			name: "figures unchanged for a quarter while projects moved", rule: "stale_figures",
			pick: `SELECT x.code, jsonb_build_object('quarter', '2019Q1', 'project_moves', 1)
				FROM villages x JOIN regions r USING (code) WHERE r.poverty_status = 'not_exited' AND ` + unflagged + `
				  AND EXISTS (SELECT FROM projects p WHERE p.village_code = x.code AND p.status = 'under_construction' AND p.completion < 99)
				ORDER BY x.code LIMIT 1`,
			raise: flagStep{at: "2019-02-01T18:00:00+08:00", sql: []string{`UPDATE projects SET completion = completion + 1
				WHERE code = (SELECT code FROM projects WHERE village_code = @code AND status = 'under_construction' AND completion < 99
				              ORDER BY code LIMIT 1)`}},
			raised: "2019-04-01T00:00:00+08:00",
			clear: flagStep{at: "2019-05-06T18:00:00+08:00", sql: []string{`UPDATE villages SET poor_population = poor_population - 1,
				poor_households = least(poor_households, poor_population - 1) WHERE code = @code`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := pgtest.New(t)
			ctx := context.Background()
			past := geo.OpenPast(pool)
			t.Cleanup(past.Close)
			reads := geo.Reads{Now: pool, Past: past}
			var code, want string
			if err := pool.QueryRow(ctx, tt.pick).Scan(&code, &want); err != nil {
				t.Fatalf("pick the subject: %v", err)
			}
			// flags reads the rule's flags of the subject: when raised
			// and cleared, and whether their facts hold want.
			type span struct {
				raised  time.Time
				cleared *time.Time
				facts   string
				holds   bool
				// The transactions that raised and cleared it.
				raisedBy, clearedBy *int64
			}
			flags := func() []span {
				t.Helper()
				rows, err := pool.Query(ctx, `SELECT raised_at, cleared_at, facts::text, facts @> $3::jsonb, raised_txid, cleared_txid
					FROM flags WHERE rule = $1 AND subject_code = $2 ORDER BY raised_at`, tt.rule, code, want)
				if err != nil {
					t.Fatal(err)
				}
				spans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (span, error) {
					var s span
					return s, r.Scan(&s.raised, &s.cleared, &s.facts, &s.holds, &s.raisedBy, &s.clearedBy)
				})
				if err != nil {
					t.Fatal(err)
				}
				return spans
			}
			// heldAt says whether the flag is among the flags as of at.
			heldAt := func(at time.Time) bool {
				t.Helper()
				ctx, db := reads.At(ctx, &at)
				var n int
				if err := db.QueryRow(ctx, `SELECT count(*) FROM flags WHERE rule = $1 AND subject_code = $2`, tt.rule, code).Scan(&n); err != nil {
					t.Fatalf("flags as of %v: %v", at, err)
				}
				return n > 0
			}
			if got := flags(); len(got) != 0 {
				t.Fatalf("%s of %s before the scenario: %+v", tt.rule, code, got)
			}
			if tt.refused != "" {
				_, err := flagStep{sql: []string{tt.refused}}.change(pool, code, "")
				if c := geo.ErrorCode(err); c != geo.EInvalid && c != geo.EUnprocessable {
					t.Fatalf("%s: %v, want it refused", tt.refused, err)
				}
			}
			from, to, raisedBy := tt.raise.run(t, pool, code)
			got := flags()
			if tt.none {
				if len(got) != 0 {
					t.Fatalf("%s of %s: %+v, want none", tt.rule, code, got)
				}
				return
			}
			if len(got) != 1 || got[0].cleared != nil || !got[0].holds {
				t.Fatalf("%s of %s: %+v, want one open flag whose facts hold %s", tt.rule, code, got, want)
			}
			raised := got[0].raised
			checkMoment(t, "raised", raised, tt.raised, tt.raise.at, from, to)
			// A flag raised by a change links to it (its audit rows);
			// one raised by a quarter's end, by no change, to none.
			if tt.raised == "" && (got[0].raisedBy == nil || *got[0].raisedBy != raisedBy) {
				t.Errorf("raised by transaction %v, want %d", got[0].raisedBy, raisedBy)
			}
			if heldAt(raised.Add(-time.Microsecond)) || !heldAt(raised) {
				t.Errorf("as of the moment before it was raised, and then: want it only then")
			}
			from, to, clearedBy := tt.clear.run(t, pool, code)
			got = flags()
			if len(got) != 1 || got[0].cleared == nil || !got[0].raised.Equal(raised) {
				t.Fatalf("%s of %s after the clearing change: %+v, want the flag raised at %v cleared", tt.rule, code, got, raised)
			}
			cleared := *got[0].cleared
			checkMoment(t, "cleared", cleared, "", tt.clear.at, from, to)
			if got[0].clearedBy == nil || *got[0].clearedBy != clearedBy {
				t.Errorf("cleared by transaction %v, want %d", got[0].clearedBy, clearedBy)
			}
			if !heldAt(cleared.Add(-time.Microsecond)) || heldAt(cleared) {
				t.Errorf("as of the moment before it was cleared, and then: want it held before only")
			}
		})
	}
}

// checkMoment checks that got is want, else the moment of a dated change
// at, else (undated) between from and to.
func checkMoment(t *testing.T, what string, got time.Time, want, at string, from, to time.Time) {
	t.Helper()
	if want == "" {
		want = at
	}
	if want == "" {
		// The database's clock and the test's may differ by less than
		// this.
		const slack = time.Second
		if got.Before(from.Add(-slack)) || got.After(to.Add(slack)) {
			t.Errorf("%s at %v, want between %v and %v", what, got, from, to)
		}
		return
	}
	w, err := time.Parse(time.RFC3339, want)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(w) {
		t.Errorf("%s at %v, want %v", what, got, w)
	}
}
