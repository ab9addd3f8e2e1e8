package geo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Exits (有进有出): a poverty unit — a village, a township or a county —
// leaves the registry only when it meets the exit standard of its level,
// and may return to it (返贫). PostgreSQL holds the rule
// (migrations/017_exits.sql): the standards are data, admins change them,
// and every change of a unit's poverty_status is judged at the end of its
// transaction and written as a registry event, whoever makes it. This
// file reads the standards and the registry and makes the exits and
// returns the pages ask for; the database decides.

// ExitLevels are the levels of the poverty units, which have an exit
// standard each, in the order the pages list them; the CHECK constraint
// exit_standards_level_known guards them (TestEnumsMatchConstraints).
var ExitLevels = &Enum{Name: "exit_level", Title: "退出层级", Constraint: "exit_standards_level_known", Values: []EnumValue{
	{Value: "village", Label: "村（出列）"}, {Value: "township", Label: "乡镇（摘帽）"}, {Value: "county", Label: "县（摘帽）"},
}}

// Bounds of an exit year: the range the regions' CHECK takes. A year
// after the current one is refused as well: a unit cannot have exited in
// a year that has not begun.
const (
	MinExitYear = 2000
	MaxExitYear = 2100
)

// MaxReasonRunes bounds a written reason: a paragraph, not a file.
const MaxReasonRunes = 2000

// ExitStandard is the standard a unit of a level must meet to exit: its
// poverty incidence below MaxIncidence and, for a township or a county,
// at least the share MinVillagesExited of its poverty villages exited
// (nil for villages); after an exit its projects, funds and pairing stay
// and the campaign's policies continue until PoliciesUntil
// (摘帽不摘政策; a day, YYYY-MM-DD).
type ExitStandard struct {
	Level             string   `json:"level"`
	MaxIncidence      float64  `json:"max_incidence"`
	MinVillagesExited *float64 `json:"min_villages_exited"`
	PoliciesUntil     string   `json:"policies_until"`
}

// ExitStandardVersion is a standard as it held from From (nil: since
// before any data) to To (nil: it still does, or did at the moment
// read), and who set it, when the audit says.
type ExitStandardVersion struct {
	From *time.Time `json:"valid_from"`
	To   *time.Time `json:"valid_to"`
	ExitStandard
	ChangedBy *string `json:"changed_by"`
	AuditID   *int64  `json:"audit_id"`
}

// ExitStandardHistory is a level's standard and its versions, newest
// first.
type ExitStandardHistory struct {
	ExitStandard
	History []ExitStandardVersion `json:"history"`
}

// sqlExitStandards reads the standards (as of the moment the pool reads
// at: the as_of view of a past pool), in the order of the levels $1.
const sqlExitStandards = `
SELECT level, max_incidence::float8, min_villages_exited::float8, to_char(policies_until, 'YYYY-MM-DD')
FROM exit_standards ORDER BY array_position($1::text[], level)`

// sqlExitStandardHistory reads the versions of the standards that had
// begun by $1 (NULL: now), in the order of the levels $2, newest first, each with the audit row of the
// change that made it (audit_rows keys a standard by its level); a
// version that ended after $1 still held then.
const sqlExitStandardHistory = `
SELECT h.level, lower(h.valid), CASE WHEN $1::timestamptz IS NULL OR upper(h.valid) <= $1 THEN upper(h.valid) END,
       h.max_incidence::float8, h.min_villages_exited::float8, to_char(h.policies_until, 'YYYY-MM-DD'), a.actor, a.id
FROM exit_standards_history h
LEFT JOIN LATERAL (
    SELECT a.id, a.actor FROM audit_log a
    WHERE a.txid = h.txid AND a.table_name = 'exit_standards' AND a.row_key = h.level
    ORDER BY a.id DESC
    LIMIT 1
) a ON true
WHERE $1 IS NULL OR lower(h.valid) IS NULL OR lower(h.valid) <= $1
ORDER BY array_position($2::text[], h.level), lower(h.valid) DESC NULLS LAST`

// momentParam is the moment ctx reads as of (AtMoment), as a query
// parameter: nil for now.
func momentParam(ctx context.Context) *time.Time {
	if t, ok := MomentOf(ctx); ok {
		return &t
	}
	return nil
}

// ExitStandards reads the exit standard of each level, in ExitLevels'
// order, each with its versions; as of the moment ctx carries when db is
// a pool that reads the past (Reads.At).
func ExitStandards(ctx context.Context, db DB) ([]ExitStandardHistory, error) {
	out := []ExitStandardHistory{}
	b := snapshot(db)
	b.Queue(sqlExitStandards, ExitLevels.Strings()).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			s := ExitStandardHistory{History: []ExitStandardVersion{}}
			if err := rows.Scan(&s.Level, &s.MaxIncidence, &s.MinVillagesExited, &s.PoliciesUntil); err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	b.Queue(sqlExitStandardHistory, momentParam(ctx), ExitLevels.Strings()).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var v ExitStandardVersion
			if err := rows.Scan(&v.Level, &v.From, &v.To, &v.MaxIncidence, &v.MinVillagesExited, &v.PoliciesUntil,
				&v.ChangedBy, &v.AuditID); err != nil {
				return err
			}
			v.From, v.To = inDataZone(v.From), inDataZone(v.To)
			for i := range out {
				if out[i].Level == v.Level {
					out[i].History = append(out[i].History, v)
				}
			}
		}
		return rows.Err()
	})
	if err := send(ctx, db, b); err != nil {
		return nil, fmt.Errorf("exit standards: %w", err)
	}
	return out, nil
}

// inDataZone is t in DataZone, or nil.
func inDataZone(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	z := t.In(DataZone)
	return &z
}

// sqlSetExitStandard sets a level's standard; row-level security lets
// only an actor of scope '*' write it.
const sqlSetExitStandard = `
UPDATE exit_standards SET max_incidence = $2, min_villages_exited = $3, policies_until = $4::date
WHERE level = $1
RETURNING level, max_incidence::float8, min_villages_exited::float8, to_char(policies_until, 'YYYY-MM-DD')`

// Check says what is wrong with s as a standard, as an EInvalid error
// naming each field at fault: a level that is none of ExitLevels, an
// incidence outside (0, 1] or finer than the table keeps (five decimal
// places), a share of villages outside [0, 1] (or given for villages,
// or missing for the others), a day that is none or outside the exit
// years.
func (s ExitStandard) Check() error {
	var problems []FieldError
	if !ExitLevels.Has(s.Level) {
		problems = append(problems, FieldError{"level", "must be one of " + strings.Join(ExitLevels.Strings(), ", ")})
	}
	if !(s.MaxIncidence > 0 && s.MaxIncidence <= 1) || !fiveDecimals(s.MaxIncidence) {
		problems = append(problems, FieldError{"max_incidence", "must be a share above 0 and at most 1, to five decimal places (0.03 is 3%)"})
	}
	switch m := s.MinVillagesExited; {
	case s.Level == "village" && m != nil:
		problems = append(problems, FieldError{"min_villages_exited", "must be null for villages, which are judged on their incidence alone"})
	case s.Level != "village" && m == nil:
		problems = append(problems, FieldError{"min_villages_exited", "is required for townships and counties: the share of their poverty villages that must have exited"})
	case m != nil && (!(*m >= 0 && *m <= 1) || !fiveDecimals(*m)):
		problems = append(problems, FieldError{"min_villages_exited", "must be a share from 0 to 1, to five decimal places (0.9 is 90%)"})
	}
	if d, err := time.Parse(time.DateOnly, s.PoliciesUntil); err != nil || d.Year() < MinExitYear || d.Year() > MaxExitYear {
		problems = append(problems, FieldError{"policies_until", fmt.Sprintf("must be a day, YYYY-MM-DD, in the years %d to %d", MinExitYear, MaxExitYear)})
	}
	if problems != nil {
		return &Error{Code: EInvalid, Fields: problems, Message: "the exit standard is not valid: " + fieldList(problems)}
	}
	return nil
}

// fiveDecimals reports whether x has at most five decimal places, as
// numeric(6, 5) keeps it: a finer figure would be rounded, silently.
func fiveDecimals(x float64) bool {
	return math.Abs(x*1e5-math.Round(x*1e5)) < 1e-6
}

// fieldList names the fields of problems, in order, once each.
func fieldList(problems []FieldError) string {
	var names []string
	for _, p := range problems {
		if !slices.Contains(names, p.Field) {
			names = append(names, p.Field)
		}
	}
	return strings.Join(names, ", ")
}

// SetExitStandard sets the standard of s.Level to s, as actor, through
// Change (so audited and kept in the history; the flags are computed
// again against it), and returns it as stored. An invalid standard is
// EInvalid (Check); an actor who is not an admin EForbidden (the
// database's row-level security says so).
func SetExitStandard(ctx context.Context, db DB, actor Actor, s ExitStandard) (*ExitStandard, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	var stored ExitStandard
	_, err := Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, sqlSetExitStandard, s.Level, s.MaxIncidence, s.MinVillagesExited, s.PoliciesUntil).Scan(
			&stored.Level, &stored.MaxIncidence, &stored.MinVillagesExited, &stored.PoliciesUntil)
		if errors.Is(err, pgx.ErrNoRows) {
			// The level is known (Check): the policy hid its row.
			return Errorf(EForbidden, "exit standards are set by admins")
		}
		return err
	})
	if err != nil {
		if ErrorCode(err) != "" {
			return nil, err
		}
		return nil, fmt.Errorf("exit standard of %s: %w", s.Level, err)
	}
	return &stored, nil
}

// ExitFigures are the figures a unit's exit is judged on (SQL
// exit_figures): for a village its own, for a township or a county the
// sums over its villages and how many of its poverty villages (those in
// the registry) there are and have exited. Incidence is poor people over
// population, to five places; nil without population.
type ExitFigures struct {
	Population      int64    `json:"population"`
	PoorPopulation  int64    `json:"poor_population"`
	Incidence       *float64 `json:"incidence"`
	PovertyVillages int      `json:"poverty_villages"`
	ExitedVillages  int      `json:"exited_villages"`
}

// RegistryEvent is one change of a unit's place in the registry: it
// entered (enter), exited (exit), returned to poverty (return) or left
// it (leave); with who, when, its figures and, for an exit, the
// standard of the moment, the reason given and whether an admin
// exited it over the standard (Override).
type RegistryEvent struct {
	ID       int64     `json:"id"`
	Region   RegionRef `json:"region"`
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	ExitYear *int16    `json:"exit_year"`
	// The unit's figures when the event was made.
	Population      *int64   `json:"population"`
	PoorPopulation  *int64   `json:"poor_population"`
	Incidence       *float64 `json:"incidence"`
	PovertyVillages *int     `json:"poverty_villages"`
	ExitedVillages  *int     `json:"exited_villages"`
	// The standard it was judged by (exits).
	MaxIncidence      *float64 `json:"max_incidence"`
	MinVillagesExited *float64 `json:"min_villages_exited"`
	Reason            *string  `json:"reason"`
	Override          bool     `json:"override"`
}

// Registry is a region's place in the poverty registry: its status, its
// figures against its level's standard (whether it could exit now), until
// when its policies continue once exited, and the registry events of
// the region and of every region under it, newest first.
type Registry struct {
	RegionRef
	Status   string      `json:"status"`
	ExitYear *int16      `json:"exit_year"`
	Figures  ExitFigures `json:"figures"`
	// Standard is its level's; nil for a level that is no poverty unit
	// (above the counties), and MeetsStandard then nil too.
	Standard      *ExitStandard `json:"standard"`
	MeetsStandard *bool         `json:"meets_standard"`
	// PoliciesUntil is the standard's day while the unit is exited
	// (摘帽不摘政策: its projects, funds and pairing stay); nil otherwise.
	PoliciesUntil *string `json:"policies_until"`
	// Events are at most MaxRegistryEvents; EventsTotal says how many
	// there are.
	Events      []RegistryEvent `json:"events"`
	EventsTotal int             `json:"events_total"`
}

// MaxRegistryEvents bounds the events a registry lists.
const MaxRegistryEvents = 200

// sqlRegistry reads region $1's status, its exit figures (exit_figures)
// and its level's standard, and whether the figures meet it
// (meets_exit_standard): the very functions the database judges an exit
// by, so that what the page says of an exit is what the database will do.
// A region above the counties (a city, a province, the country: no
// poverty unit), which has no rollup row of its own, has its counties'
// figures summed, as region_figures does (migrations/019_provinces.sql).
const sqlRegistry = `
SELECT r.code, r.name, r.level, r.poverty_status, r.exit_year,
       coalesce(f.population, 0), coalesce(f.poor_population, 0), f.incidence::float8,
       coalesce(f.poverty_villages, 0), coalesce(f.exited_villages, 0),
       s.level, s.max_incidence::float8, s.min_villages_exited::float8, to_char(s.policies_until, 'YYYY-MM-DD'),
       CASE WHEN s.level IS NOT NULL
            THEN meets_exit_standard(f.incidence, f.poverty_villages, f.exited_villages, s.max_incidence, s.min_villages_exited) END
FROM regions r
LEFT JOIN LATERAL (
    SELECT sum(x.population)::bigint AS population, sum(x.poor_population)::bigint AS poor_population,
           round(sum(x.poor_population)::numeric / nullif(sum(x.population), 0), 5) AS incidence,
           sum(x.poverty_villages)::int AS poverty_villages, sum(x.exited_villages)::int AS exited_villages
    FROM (SELECT code FROM region_rollups WHERE code = r.code
          UNION ALL
          SELECT code FROM region_rollups WHERE level = 'county' AND lineage @> ARRAY[r.code] AND above_counties(r.level)) k
    CROSS JOIN LATERAL exit_figures(k.code) x
) f ON true
LEFT JOIN exit_standards s ON s.level = r.level
WHERE r.code = $1`

// sqlRegistryEvents reads the registry events of region $1 and the
// regions under it that were made by $2 (NULL: now), newest first, at
// most $3, each with how many there are in all. An event is found by its
// region's lineage, which it carries and which follows the region when
// it moves (migrations/033_registry_lineage.sql), not by a walk down the
// regions, which under a country is 650,000 of them; the count is its own
// read of the same events, so that the page is a sort that keeps the
// newest $3 rather than a window over every event.
const sqlRegistryEvents = `
SELECT e.id, e.region_code, r.name, e.level, e.kind, e.at, e.actor, e.exit_year,
       e.population, e.poor_population, e.incidence::float8, e.poverty_villages, e.exited_villages,
       e.max_incidence::float8, e.min_villages_exited::float8, e.reason, e.override,
       (SELECT count(*) FROM registry_events c WHERE c.lineage @> ARRAY[$1] AND ($2::timestamptz IS NULL OR c.at <= $2))
FROM (SELECT * FROM registry_events
      WHERE lineage @> ARRAY[$1] AND ($2::timestamptz IS NULL OR at <= $2)
      ORDER BY at DESC, id DESC
      LIMIT $3) e
JOIN regions r ON r.code = e.region_code
ORDER BY e.at DESC, e.id DESC`

// RegistryOf reads region code's place in the registry (Registry); as of
// the moment ctx carries when db is a pool that reads the past
// (Reads.At). A malformed code is EInvalid, an unknown one ENotFound.
func RegistryOf(ctx context.Context, db DB, code string) (*Registry, error) {
	if err := checkCode(code); err != nil {
		return nil, err
	}
	g := &Registry{Events: []RegistryEvent{}}
	b := snapshot(db)
	b.Queue(sqlRegistry, code).QueryRow(func(row pgx.Row) error {
		// A level without a standard (above the counties) reads NULLs for it.
		var level, until *string
		var maxIncidence *float64
		var minShare *float64
		f := &g.Figures
		if err := row.Scan(&g.Code, &g.Name, &g.Level, &g.Status, &g.ExitYear,
			&f.Population, &f.PoorPopulation, &f.Incidence, &f.PovertyVillages, &f.ExitedVillages,
			&level, &maxIncidence, &minShare, &until, &g.MeetsStandard); err != nil {
			return err
		}
		if level != nil {
			g.Standard = &ExitStandard{Level: *level, MaxIncidence: *maxIncidence, MinVillagesExited: minShare, PoliciesUntil: *until}
			if g.Status == "exited" {
				g.PoliciesUntil = until
			}
		}
		return nil
	})
	b.Queue(sqlRegistryEvents, code, momentParam(ctx), MaxRegistryEvents).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var e RegistryEvent
			if err := rows.Scan(&e.ID, &e.Region.Code, &e.Region.Name, &e.Region.Level, &e.Kind, &e.At, &e.Actor, &e.ExitYear,
				&e.Population, &e.PoorPopulation, &e.Incidence, &e.PovertyVillages, &e.ExitedVillages,
				&e.MaxIncidence, &e.MinVillagesExited, &e.Reason, &e.Override, &g.EventsTotal); err != nil {
				return err
			}
			e.At = e.At.In(DataZone)
			g.Events = append(g.Events, e)
		}
		return rows.Err()
	})
	if err := send(ctx, db, b); err != nil {
		return nil, regionError(code, err)
	}
	return g, nil
}

// sqlReason makes the reason the actor gave known to the database for
// the rest of the transaction only: the registry's trigger records it
// with the event, and takes it, from an admin, as the written reason
// that overrides the exit standard.
const sqlReason = `SELECT set_config('battlemap.reason', $1, true)`

// sqlRegistryUnit reads region $1's level and status (every role reads
// every row), locking nothing: the update below locks it, if the scope
// lets it.
const sqlRegistryUnit = `SELECT level, poverty_status, exit_year FROM regions WHERE code = $1`

// sqlExit marks region $1 exited in year $2; sqlReturn marks it back in
// poverty (返贫). Row-level security makes either touch no row outside
// the actor's scope.
const (
	sqlExit   = `UPDATE regions SET poverty_status = 'exited', exit_year = $2 WHERE code = $1`
	sqlReturn = `UPDATE regions SET poverty_status = 'not_exited', exit_year = NULL WHERE code = $1`
	// sqlReturnFigures sets a returning village's poor households and
	// people, which its registry row holds.
	sqlReturnFigures = `UPDATE villages SET poor_households = $2, poor_population = $3 WHERE code = $1`
)

// checkReason is EInvalid when reason is longer than MaxReasonRunes or
// not text.
func checkReason(reason string) error {
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxReasonRunes || strings.ContainsRune(reason, 0) {
		return &Error{Code: EInvalid, Fields: []FieldError{{"reason", fmt.Sprintf("must be text of at most %d characters", MaxReasonRunes)}},
			Message: "the reason is not valid"}
	}
	return nil
}

// registryChange runs the change of region code's place in the registry
// as actor, with reason (trimmed; none when empty) made known to the
// database: it reads the unit, lets want say whether the change applies
// to it, runs the statements fn makes, and says EForbidden when the
// actor's scope kept the region's row from the update. Then it reads the
// registry as it now is (the events are written as the change commits).
func registryChange(ctx context.Context, db DB, actor Actor, code, reason string,
	want func(level, status string, exitYear *int16) error, fn func(tx pgx.Tx, level string) error) (*Registry, error) {
	if err := checkCode(code); err != nil {
		return nil, err
	}
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	_, err := Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		if r := strings.TrimSpace(reason); r != "" {
			if _, err := tx.Exec(ctx, sqlReason, r); err != nil {
				return err
			}
		}
		var level, status string
		var exitYear *int16
		err := tx.QueryRow(ctx, sqlRegistryUnit, code).Scan(&level, &status, &exitYear)
		if errors.Is(err, pgx.ErrNoRows) {
			return Errorf(ENotFound, "no region has the code %s", code)
		}
		if err != nil {
			return err
		}
		if !ExitLevels.Has(level) {
			return &Error{Code: EUnprocessable, Fields: []FieldError{{"poverty_status", "only villages, townships and counties are poverty units"}},
				Message: fmt.Sprintf("%s is a %s: only villages, townships and counties enter and exit the poverty registry", code, level)}
		}
		if err := want(level, status, exitYear); err != nil {
			return err
		}
		return fn(tx, level)
	})
	if err != nil {
		if ErrorCode(err) != "" {
			return nil, err
		}
		return nil, fmt.Errorf("registry of %s: %w", code, err)
	}
	return RegistryOf(ctx, db, code)
}

// updated is EForbidden when an update of region code (of level) changed
// n = 0 rows: the region exists (it was read), so row-level security
// kept it from the actor.
func updated(n int64, code, level string) error {
	if n == 0 {
		return Errorf(EForbidden, "%s %s lies outside what you may change (a county user changes the townships and villages of their counties, not the county itself)", level, code)
	}
	return nil
}

// Exit marks the poverty unit code (a village, township or county in the
// registry, not exited) exited in exitYear, as actor, through Change, and
// returns its registry as it then is. The database judges the exit at
// commit against the unit's standard: below it the exit is refused, an
// EUnprocessable error whose Facts are the standard and the unit's
// figures, unless actor is an admin and gives a reason, which is then
// recorded with the exit as an override (and raises the flag
// exit_override). A reason given otherwise is recorded with the exit.
//
// Errors: EInvalid (a malformed code, a year outside MinExitYear to the
// current year, a reason too long), ENotFound, EUnprocessable (not a
// poverty unit, not in the registry, exited already, below the
// standard), EForbidden (outside the actor's scope).
func Exit(ctx context.Context, db DB, actor Actor, code string, exitYear int, reason string) (*Registry, error) {
	if now := time.Now().In(DataZone).Year(); exitYear < MinExitYear || exitYear > min(now, MaxExitYear) {
		return nil, &Error{Code: EInvalid, Fields: []FieldError{{"exit_year", fmt.Sprintf("must be a year from %d to %d", MinExitYear, min(now, MaxExitYear))}},
			Message: fmt.Sprintf("the exit year %d is not valid: it runs from %d to this year", exitYear, MinExitYear)}
	}
	return registryChange(ctx, db, actor, code, reason,
		func(level, status string, exitYear *int16) error {
			switch status {
			case "exited":
				return &Error{Code: EUnprocessable, Fields: []FieldError{{"poverty_status", "is exited already"}},
					Message: fmt.Sprintf("%s %s exited already, in %d", level, code, *exitYear)}
			case "none":
				return &Error{Code: EUnprocessable, Fields: []FieldError{{"poverty_status", "is not in the poverty registry"}},
					Message: fmt.Sprintf("%s %s is not in the poverty registry: there is nothing to exit", level, code)}
			}
			return nil
		},
		func(tx pgx.Tx, level string) error {
			tag, err := tx.Exec(ctx, sqlExit, code, exitYear)
			if err != nil {
				return err
			}
			return updated(tag.RowsAffected(), code, level)
		})
}

// ReturnFigures are a village's figures as it returns to poverty: its
// poor households and people, at least one each.
type ReturnFigures struct {
	PoorHouseholds *int64
	PoorPopulation *int64
}

// Return enters the exited unit code back into the registry (返贫), as
// actor, with reason (required: why it returned), through Change, and
// returns its registry as it then is. A village returns with its poor
// households and people (f, required, at least one each, at most its
// population); a township's or a county's figures are its villages', so
// f must be empty for them. The unit's projects, funds and pairing are
// untouched, as they were by its exit.
//
// Errors: EInvalid (a malformed code, no reason, figures missing or
// given where they do not belong, or out of range), ENotFound,
// EUnprocessable (not a poverty unit, not exited), EForbidden (outside
// the actor's scope).
func Return(ctx context.Context, db DB, actor Actor, code, reason string, f ReturnFigures) (*Registry, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, &Error{Code: EInvalid, Fields: []FieldError{{"reason", "is required: why the unit returned to poverty"}},
			Message: "a return to poverty (返贫) needs a written reason"}
	}
	return registryChange(ctx, db, actor, code, reason,
		func(level, status string, _ *int16) error {
			if status != "exited" {
				return &Error{Code: EUnprocessable, Fields: []FieldError{{"poverty_status", "is not exited"}},
					Message: fmt.Sprintf("%s %s has not exited: only an exited unit returns to poverty", level, code)}
			}
			return f.check(level)
		},
		func(tx pgx.Tx, level string) error {
			if level == "village" {
				tag, err := tx.Exec(ctx, sqlReturnFigures, code, *f.PoorHouseholds, *f.PoorPopulation)
				if err != nil {
					return err
				}
				if err := updated(tag.RowsAffected(), code, level); err != nil {
					return err
				}
			}
			tag, err := tx.Exec(ctx, sqlReturn, code)
			if err != nil {
				return err
			}
			return updated(tag.RowsAffected(), code, level)
		})
}

// check says, as an EInvalid error naming the fields, what is wrong with
// f for a unit of level.
func (f ReturnFigures) check(level string) error {
	var problems []FieldError
	for _, x := range []struct {
		name string
		v    *int64
	}{{"poor_households", f.PoorHouseholds}, {"poor_population", f.PoorPopulation}} {
		switch {
		case level != "village" && x.v != nil:
			problems = append(problems, FieldError{x.name, "is not given for a " + level + ": its figures are its villages'"})
		case level == "village" && x.v == nil:
			problems = append(problems, FieldError{x.name, "is required: the village's figures as it returns"})
		case x.v != nil && *x.v < 1:
			problems = append(problems, FieldError{x.name, "must be a whole number from 1 up"})
		}
	}
	if problems == nil && level == "village" && *f.PoorHouseholds > *f.PoorPopulation {
		problems = append(problems, FieldError{"poor_households", "cannot exceed poor_population"})
	}
	if problems != nil {
		return &Error{Code: EInvalid, Fields: problems, Message: "the figures of the return are not valid: " + fieldList(problems)}
	}
	return nil
}
