package geo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rankings (考核排名): the counties, townships or paired units (包保单位)
// under a region ranked by each of four measures, as of a moment and as
// of the end of the month before it. Every figure is one SQL aggregate
// over the rows (sqlRankings); the README's "Rankings and paired units"
// says what each measure is and how ties rank.

// What a ranking ranks: the values of RankingGroupings.
const (
	ByCounty   = "county"
	ByTownship = "township"
	ByUnit     = "unit"
)

// The measures a ranking ranks by: the values of RankingMeasures.
const (
	MeasureExits        = "exits"
	MeasurePeopleOut    = "people_out"
	MeasureCompletion   = "completion"
	MeasureDisbursement = "disbursement"
)

// RankingRow is a county, township, paired unit or (in a Unit) village
// with its figures and its rank by each measure, as of a moment.
type RankingRow struct {
	// Code is the region's statistical code, or the unit's name (a unit
	// is known by the name its villages give it).
	Code string `json:"code"`
	Name string `json:"name"`
	// Level is the region's level, or the unit's pairing level (city or
	// county).
	Level string `json:"level"`
	// VillagesExited are the villages that exited in the moment's year
	// (status exited, exit year that year); VillagesToExit those and the
	// villages not exited at the moment; ExitRate the first over the
	// second, nil when there are none to exit.
	VillagesExited int64    `json:"villages_exited"`
	VillagesToExit int64    `json:"villages_to_exit"`
	ExitRate       *float64 `json:"exit_rate"`
	// PoorAtStart and PoorNow are the villages' poor people as the
	// moment's year began (or the history, if later) and at the moment,
	// read through the history (region_stocks); PeopleOut is the first
	// minus the second.
	PoorAtStart int64 `json:"poor_at_start"`
	PoorNow     int64 `json:"poor_now"`
	PeopleOut   int64 `json:"people_out"`
	// Projects, CompletionAvg, Planned, Disbursed and DisbursementRate
	// are as Funds' (RegionFunds), over the projects counted in the
	// region or serving the unit's villages.
	Projects         int64    `json:"projects"`
	CompletionAvg    *float64 `json:"completion_avg"`
	Planned          int64    `json:"planned"`
	Disbursed        int64    `json:"disbursed"`
	DisbursementRate *float64 `json:"disbursement_rate"`
	// Ranks are the row's rank by each measure (1 the best; equal
	// figures share a rank and the next rank skips as many); no entry
	// where the row has no figure for the measure.
	Ranks map[string]int `json:"ranks"`
	// Guard is what a CSV cell of Name begins with so that a spreadsheet
	// takes it as text (csvFormulaGuard): "'" or "".
	Guard string `json:"-"`
}

// reading is a ranking's rows as of a moment.
type reading struct {
	// At is the moment; Year its year (in DataZone), the year whose
	// exits and people lifted out count; YearStart when the people
	// lifted out are counted from.
	At        time.Time
	Year      int
	YearStart time.Time
	Rows      []RankingRow
}

// sqlRankings ranks the groups of kind $2 (county, township, unit, or
// village: the villages of unit $6) under the regions $1 (NULL: every
// top region) as of $4, counting the exits of year $5 and the people
// lifted out since $3. Membership is the rollups' (counted_in): a
// region's villages and projects are those counted in it; a unit's
// villages those under the regions that name it, its projects those
// serving them. The ratios are the figures' everywhere (share_of,
// average_of). A rank is rank(): ties share it; a row with no figure for
// a measure has no rank by it.
//
// The rows counted in a county or township are found by the codes that
// file them under it (a village's and a site's county_code and
// township_code, a project's county_code and its village's township),
// which the foreign keys hold equal to the walk up the regions that
// counted_in follows: the walk goes down only to the counties (or the
// townships ranked), and a country's ranking reads each village once,
// where counted_in would list it under each of the six regions above it.
var sqlRankings = `
WITH RECURSIVE roots AS (
    SELECT coalesce($1::text[], ARRAY(SELECT code FROM regions WHERE parent_code IS NULL)) AS codes
), stop AS (
    SELECT CASE WHEN $2 IN ('county', 'township') THEN $2 ELSE 'county' END AS level
), under (code, name, level) AS (
    -- The roots and the regions under them down to the level ranked, for
    -- units and villages to the counties: a walk that stops there, or at
    -- a township it starts from.
    SELECT r.code, r.name, r.level FROM roots JOIN regions r ON r.code = ANY (roots.codes)
    UNION ALL
    SELECT r.code, r.name, r.level FROM under d CROSS JOIN stop JOIN regions r ON r.parent_code = d.code
    WHERE d.level NOT IN (stop.level, 'township', 'village')
), filed AS NOT MATERIALIZED (
    -- Each branch of held joins it by its own key (not materialized:
    -- each reads the villages of the regions it holds by their index).
    SELECT v.county_code, v.township_code, v.code AS village_code, NULL AS project_code FROM villages v
    UNION ALL
    SELECT p.county_code, v.township_code, NULL, p.code FROM projects p LEFT JOIN villages v ON v.code = p.village_code
    UNION ALL
    -- A site brings its region into the ranking, with no figure.
    SELECT s.county_code, s.township_code, NULL, NULL FROM sites s
), held AS (
    -- What is filed under the regions where the walk stopped: the
    -- counties, or the townships; a join on each key, which an index or
    -- a hash can serve, where a key chosen row by row could use neither.
    SELECT k.code, k.name, k.level, f.village_code, f.project_code
    FROM under k CROSS JOIN stop JOIN filed f ON f.county_code = k.code
    WHERE k.level = 'county' AND stop.level = 'county'
    UNION ALL
    SELECT k.code, k.name, k.level, f.village_code, f.project_code
    FROM under k JOIN filed f ON f.township_code = k.code
    WHERE k.level = 'township'
), paired AS (
    SELECT CASE WHEN $2 = 'unit' THEN v.pairing_unit ELSE v.code END AS key,
           CASE WHEN $2 = 'unit' THEN v.pairing_unit ELSE r.name END AS name,
           CASE WHEN $2 = 'unit' THEN v.pairing_level ELSE 'village' END AS level, v.code AS village_code
    FROM held h JOIN villages v ON v.code = h.village_code JOIN regions r ON r.code = v.code
    WHERE $2 IN ('unit', 'village') AND v.pairing_unit IS NOT NULL AND ($6::text IS NULL OR v.pairing_unit = $6)
), members AS (
    SELECT h.code AS key, h.name, h.level, h.village_code, h.project_code FROM held h WHERE $2 IN ('county', 'township')
    UNION ALL
    SELECT u.key, u.name, u.level, u.village_code, NULL FROM paired u
    UNION ALL
    -- A village's projects are counted in it, so in the regions above.
    SELECT u.key, u.name, u.level, NULL, p.code FROM paired u JOIN projects p ON p.village_code = u.village_code
), groups AS (
    SELECT key, min(name) AS name, min(level) AS level FROM members GROUP BY key
), holders AS (
    -- Whose rollup rows hold a group's stocks: a county's or township's
    -- own, which sum its villages'; a unit's or village's, its villages'.
    SELECT key, key AS code FROM groups WHERE $2 IN ('county', 'township')
    UNION ALL
    SELECT key, village_code FROM paired
), stocks AS (
    -- The stocks at a moment are the rows that held then, as
    -- region_stocks reads them.
    SELECT s.key, sum(a.poor_population)::bigint AS poor_at_start, sum(b.poor_population)::bigint AS poor_now
    FROM holders s
    LEFT JOIN region_rollups_history a
        ON a.code = s.code AND a.valid @> greatest($3::timestamptz, (SELECT lower(history_span())))
    LEFT JOIN region_rollups_history b ON b.code = s.code AND b.valid @> $4::timestamptz
    GROUP BY s.key
), falls AS (
    -- People lifted out: each fall of a village's poor people from one
    -- version to the next that began since the start, as the timeline
    -- counts them (region_timeline's people_out), so that the rankings'
    -- and the wall's 减贫 are one figure. A version that fell ended
    -- within the period, which few do: they are read by their ends
    -- (migrations/031_ranking_falls.sql), each with the version after it.
    SELECT p.code, sum(greatest(p.poor_population - n.poor_population, 0))::bigint AS people_out
    FROM region_rollups_history p
    CROSS JOIN LATERAL (
        SELECT n.poor_population, lower(n.valid) AS at FROM region_rollups_history n
        WHERE n.code = p.code AND lower(n.valid) >= upper(p.valid)
        ORDER BY lower(n.valid) LIMIT 1) n
    WHERE p.level = 'village' AND NOT upper_inf(p.valid)
      AND upper(p.valid) >= greatest($3::timestamptz, (SELECT lower(history_span()))) AND upper(p.valid) <= $4::timestamptz
      AND n.at <= $4::timestamptz
    GROUP BY p.code
), village_figures AS (
    SELECT m.key,
           count(*) FILTER (WHERE g.poverty_status = 'exited' AND g.exit_year = $5) AS exited,
           count(*) FILTER (WHERE g.poverty_status = 'not_exited' OR (g.poverty_status = 'exited' AND g.exit_year = $5)) AS to_exit,
           coalesce(sum(o.people_out), 0)::bigint AS people_out
    FROM members m JOIN regions g ON g.code = m.village_code
    LEFT JOIN falls o ON o.code = m.village_code
    GROUP BY m.key
), project_figures AS (
    SELECT m.key, count(*)::bigint AS projects, sum(p.completion)::bigint AS completion_total,
           sum(p.funds_planned)::bigint AS planned, sum(p.funds_disbursed)::bigint AS disbursed
    FROM members m JOIN projects p ON p.code = m.project_code
    GROUP BY m.key
), figures AS (
    SELECT g.key, g.name, g.level,
           coalesce(v.exited, 0) AS exited, coalesce(v.to_exit, 0) AS to_exit, share_of(v.exited, v.to_exit) AS exit_rate,
           coalesce(s.poor_at_start, 0) AS poor_at_start, coalesce(s.poor_now, 0) AS poor_now,
           coalesce(v.people_out, 0) AS people_out,
           coalesce(p.projects, 0) AS projects,
           round(average_of(p.completion_total, p.projects::int)::numeric, 1)::float8 AS completion_avg,
           coalesce(p.planned, 0) AS planned, coalesce(p.disbursed, 0) AS disbursed,
           share_of(p.disbursed, p.planned) AS disbursement_rate
    FROM groups g LEFT JOIN village_figures v USING (key) LEFT JOIN stocks s USING (key)
    LEFT JOIN project_figures p USING (key)
)
SELECT f.key, f.name, f.level, f.exited, f.to_exit, f.exit_rate, f.poor_at_start, f.poor_now, f.people_out,
       f.projects, f.completion_avg, f.planned, f.disbursed, f.disbursement_rate,
       CASE WHEN f.exit_rate IS NOT NULL THEN rank() OVER (PARTITION BY f.exit_rate IS NULL ORDER BY f.exit_rate DESC) END,
       rank() OVER (ORDER BY f.people_out DESC),
       CASE WHEN f.completion_avg IS NOT NULL THEN rank() OVER (PARTITION BY f.completion_avg IS NULL ORDER BY f.completion_avg DESC) END,
       CASE WHEN f.disbursement_rate IS NOT NULL THEN rank() OVER (PARTITION BY f.disbursement_rate IS NULL ORDER BY f.disbursement_rate DESC) END,
       ` + csvFormulaGuard("f.name") + `
FROM figures f
ORDER BY f.key`

// rankingMeasures are the measures in the order sqlRankings writes their
// ranks.
var rankingMeasures = []string{MeasureExits, MeasurePeopleOut, MeasureCompletion, MeasureDisbursement}

// yearStart is the start of t's year in DataZone.
func yearStart(t time.Time) time.Time {
	return time.Date(t.In(DataZone).Year(), time.January, 1, 0, 0, 0, 0, DataZone)
}

// PreviousMonthEnd is the moment a ranking as of t is compared with: the
// last moment of the month before t's, in DataZone.
func PreviousMonthEnd(t time.Time) time.Time {
	t = t.In(DataZone)
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, DataZone).Add(-time.Microsecond)
}

// byVillage ranks the villages of a unit (Unit).
const byVillage = "village"

// rankingScope checks that groupings of kind by can be ranked under
// region code, and returns the region and by, which "" makes the level
// below the region's (units under a township). by must be one of
// RankingGroupings and below the region: counties under a city or any
// region above it, townships under those or a county, units under any
// region above the villages. A malformed code or a grouping that does not fit is
// EInvalid, an unknown region ENotFound.
func rankingScope(ctx context.Context, db DB, code, by string) (RegionRef, string, error) {
	var r RegionRef
	if err := checkCode(code); err != nil {
		return r, "", err
	}
	if by != "" && !RankingGroupings.Has(by) {
		return r, "", Errorf(EInvalid, "invalid value %s for by: want one of %s", Quote(by), RankingGroupings.List())
	}
	if err := db.QueryRow(ctx, sqlRegionRef, code).Scan(&r.Code, &r.Name, &r.Level); err != nil {
		return r, "", regionError(code, err)
	}
	// A grouping ranks under any level above its own (units: above
	// villages), in RegionLevels' order; by default, the level below.
	levels := RegionLevels.Strings()
	rank := slices.Index(levels, r.Level)
	ranked := map[string]string{ByCounty: "county", ByTownship: "township", ByUnit: "village"}
	if by == "" {
		switch r.Level {
		case "county":
			by = ByTownship
		case "township":
			by = ByUnit
		default:
			by = ByCounty
		}
	}
	if rank >= slices.Index(levels, ranked[by]) {
		return r, "", Errorf(EInvalid, "by=%s ranks under a region above the %s level, and %s is a %s", by, ranked[by], code, r.Level)
	}
	return r, by, nil
}

// ranking reads the ranking of the groupings of kind by under the regions
// roots (nil: every top region), of unit's villages when by is
// byVillage, as of at; db reads as of at (Reads.At), so that a past
// ranking is today's SQL over the rows as they stood.
func ranking(ctx context.Context, db DB, roots []string, by string, unit *string, at time.Time) (*reading, error) {
	start := yearStart(at)
	rk := &reading{At: at.In(DataZone), Year: start.Year(), YearStart: start}
	rows, err := db.Query(ctx, sqlRankings, roots, by, start, at, rk.Year, unit)
	if err != nil {
		return nil, fmt.Errorf("ranking by %s: %w", by, err)
	}
	rk.Rows, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (RankingRow, error) {
		var r RankingRow
		ranks := make([]*int, len(rankingMeasures))
		err := row.Scan(&r.Code, &r.Name, &r.Level, &r.VillagesExited, &r.VillagesToExit, &r.ExitRate,
			&r.PoorAtStart, &r.PoorNow, &r.PeopleOut, &r.Projects, &r.CompletionAvg, &r.Planned, &r.Disbursed,
			&r.DisbursementRate, &ranks[0], &ranks[1], &ranks[2], &ranks[3], &r.Guard)
		r.Ranks = map[string]int{}
		for i, m := range rankingMeasures {
			if ranks[i] != nil {
				r.Ranks[m] = *ranks[i]
			}
		}
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("ranking by %s: %w", by, err)
	}
	return rk, nil
}

// RankedRow is a row of a ranking by one measure: its rank then and a
// month before, and the change.
type RankedRow struct {
	// Rank is the row's rank by the measure; nil when it has no figure.
	Rank *int `json:"rank"`
	// PreviousRank is its rank at the end of the month before; nil when
	// it had none or the history does not reach back there.
	PreviousRank *int `json:"previous_rank"`
	// Change is PreviousRank − Rank: up by that many places when
	// positive; nil without both.
	Change *int `json:"change"`
	RankingRow
	// Previous are the row's figures at the end of the month before.
	Previous *RankingRow `json:"previous"`
}

// Rankings are the counties, townships or units under a region ranked by
// one measure as of a moment, against the end of the month before.
type Rankings struct {
	Region  RegionRef `json:"region"`
	By      string    `json:"by"`
	Measure string    `json:"measure"`
	// At is the moment; Year its year (in DataZone), whose exits and
	// people lifted out count; YearStart when those are counted from.
	At        time.Time `json:"at"`
	Year      int       `json:"year"`
	YearStart time.Time `json:"year_start"`
	// PreviousAt is the moment compared with, PreviousMonthEnd(At);
	// PreviousYear its year. Both nil when the history does not reach
	// back there.
	PreviousAt   *time.Time `json:"previous_at"`
	PreviousYear *int       `json:"previous_year"`
	// Rows are by rank, the unranked last, then by code.
	Rows []RankedRow `json:"rows"`
}

// RegionRankings ranks the groupings of kind by (one of RankingGroupings,
// or "" for the level below the region's) under region code by measure
// (one of RankingMeasures, "" for the first), as of at (nil: now), and
// compares each rank with the rank as of the end of the month before,
// read by the same SQL as of that moment. A malformed code, an unknown
// grouping or measure, a grouping that does not fit under the region, or
// a moment before the history begins is EInvalid; an unknown region
// ENotFound.
func RegionRankings(ctx context.Context, reads Reads, code, by, measure string, at *time.Time) (*Rankings, error) {
	if measure == "" {
		measure = RankingMeasures.Values[0].Value
	}
	if !RankingMeasures.Has(measure) {
		return nil, Errorf(EInvalid, "invalid value %s for measure: want one of %s", Quote(measure), RankingMeasures.List())
	}
	span, _, err := HistorySpan(ctx, reads.Now)
	if err != nil {
		return nil, err
	}
	if at != nil {
		if err := span.Check(*at); err != nil {
			return nil, err
		}
	}
	m := time.Now().Truncate(time.Microsecond)
	if at != nil {
		m = *at
	}
	nowCtx, db := reads.At(ctx, at)
	region, by, err := rankingScope(nowCtx, db, code, by)
	if err != nil {
		return nil, err
	}
	cur, err := ranking(nowCtx, db, []string{code}, by, nil, m)
	if err != nil {
		return nil, err
	}
	rs := &Rankings{Region: region, By: by, Measure: measure, At: cur.At, Year: cur.Year, YearStart: cur.YearStart,
		Rows: make([]RankedRow, len(cur.Rows))}
	before := map[string]RankingRow{}
	if p := PreviousMonthEnd(m); span.Check(p) == nil {
		pctx, pdb := reads.At(ctx, &p)
		prev, err := ranking(pctx, pdb, []string{code}, by, nil, p)
		if err != nil {
			return nil, err
		}
		rs.PreviousAt, rs.PreviousYear = &prev.At, &prev.Year
		for _, r := range prev.Rows {
			before[r.Code] = r
		}
	}
	for i, r := range cur.Rows {
		row := RankedRow{RankingRow: r}
		if n, ok := r.Ranks[measure]; ok {
			row.Rank = &n
		}
		if b, ok := before[r.Code]; ok {
			row.Previous = &b
			if n, ok := b.Ranks[measure]; ok {
				row.PreviousRank = &n
			}
		}
		if row.Rank != nil && row.PreviousRank != nil {
			d := *row.PreviousRank - *row.Rank
			row.Change = &d
		}
		rs.Rows[i] = row
	}
	sortByRank(rs.Rows)
	return rs, nil
}

// sortByRank orders rows by rank, the unranked last, then by code.
func sortByRank(rows []RankedRow) {
	slices.SortStableFunc(rows, func(a, b RankedRow) int {
		switch {
		case (a.Rank == nil) != (b.Rank == nil) && a.Rank != nil:
			return -1
		case (a.Rank == nil) != (b.Rank == nil):
			return 1
		case a.Rank != nil && *a.Rank != *b.Rank:
			return cmp.Compare(*a.Rank, *b.Rank)
		}
		return cmp.Compare(a.Code, b.Code)
	})
}

// Unit is a paired unit (包保单位) with its villages and their progress,
// as of a moment: the unit's figures (its row of the ranking by unit)
// and each village's, ranked among the unit's villages.
type Unit struct {
	RankingRow
	// At, Year and YearStart are as Rankings'.
	At        time.Time    `json:"at"`
	Year      int          `json:"year"`
	YearStart time.Time    `json:"year_start"`
	Villages  []RankingRow `json:"villages"`
}

// PairedUnit reads the unit name's villages everywhere (under every top
// region) as of at (nil: now), on reads. A moment before the history
// begins is EInvalid; a name no village gives ENotFound.
func PairedUnit(ctx context.Context, reads Reads, name string, at *time.Time) (*Unit, error) {
	m := time.Now().Truncate(time.Microsecond)
	if at != nil {
		if err := CheckMoment(ctx, reads.Now, *at); err != nil {
			return nil, err
		}
		m = *at
	}
	ctx, db := reads.At(ctx, at)
	whole, err := ranking(ctx, db, nil, ByUnit, &name, m)
	if err != nil {
		return nil, err
	}
	if len(whole.Rows) == 0 {
		return nil, Errorf(ENotFound, "no village is paired with a unit named %s", Quote(name))
	}
	villages, err := ranking(ctx, db, nil, byVillage, &name, m)
	if err != nil {
		return nil, err
	}
	return &Unit{RankingRow: whole.Rows[0], At: whole.At, Year: whole.Year, YearStart: whole.YearStart, Villages: villages.Rows}, nil
}
