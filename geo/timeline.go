package geo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The timeline: how a region's figures moved over a period, step by step,
// against its target for the year. The figures are the rollups' history
// (migrations/015_timeline.sql defines each one); Go cuts the period into
// steps and adds them up.

// Steps a period is cut into.
const (
	StepMonth = "month" // calendar months
	StepWeek  = "week"  // ISO weeks, Monday to Sunday
	StepDay   = "day"   // days
)

// Steps are the steps a timeline takes, the default first.
var Steps = []string{StepMonth, StepWeek, StepDay}

// MaxSteps is the most steps a timeline has: a year and a month of days,
// which a chart can still show.
const MaxSteps = 400

// Period is a validated timeline period: whole days in DataZone, From's
// start to To's end, cut into steps of Step.
type Period struct {
	// From and To are the first and last day, each at 00:00 in DataZone.
	From, To time.Time
	// Step is StepMonth, StepWeek or StepDay.
	Step string
}

// NewPeriod reads a period from its query parameters as given, "" for
// one not given: from and to are days (YYYY-MM-DD, DataZone), step one of
// Steps. to defaults to today (as of now) and step to StepMonth; from
// defaults to January 1 of to's year, or to historyBegins' day when the
// history begins later that year (then, if that is after to, to's day).
// It returns an EInvalid error naming the parameter for a malformed day,
// an unknown step, a day after today, from after to, or a period of more
// than MaxSteps steps. Whether the history holds the days is Period.Check's
// to say.
func NewPeriod(from, to, step string, now, historyBegins time.Time) (Period, error) {
	today := dayOf(now)
	p := Period{To: today, Step: StepMonth}
	var err error
	if to != "" {
		if p.To, err = parseDay("to", to, today); err != nil {
			return Period{}, err
		}
	}
	if from != "" {
		if p.From, err = parseDay("from", from, today); err != nil {
			return Period{}, err
		}
	} else {
		p.From = time.Date(p.To.Year(), time.January, 1, 0, 0, 0, 0, DataZone)
		if b := dayOf(historyBegins); !historyBegins.IsZero() && b.After(p.From) {
			p.From = b
			if p.From.After(p.To) {
				p.From = p.To
			}
		}
	}
	if step != "" {
		if !slices.Contains(Steps, step) {
			return Period{}, Errorf(EInvalid, "invalid value %s for step: want one of %s", Quote(step), strings.Join(Steps, ", "))
		}
		p.Step = step
	}
	if p.From.After(p.To) {
		return Period{}, Errorf(EInvalid, "the period runs from %s to %s: from must not come after to",
			p.From.Format(dayLayout), p.To.Format(dayLayout))
	}
	if n := len(p.Bounds()) - 1; n > MaxSteps {
		return Period{}, Errorf(EInvalid, "the period from %s to %s has more than %d steps of a %s: take a longer step or a shorter period",
			p.From.Format(dayLayout), p.To.Format(dayLayout), MaxSteps, p.Step)
	}
	return p, nil
}

// dayOf is the start of t's day in DataZone.
func dayOf(t time.Time) time.Time {
	y, m, d := t.In(DataZone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, DataZone)
}

// parseDay reads the day s of the parameter name, which must not be after
// today.
func parseDay(name, s string, today time.Time) (time.Time, error) {
	d, err := time.ParseInLocation(dayLayout, s, DataZone)
	if err != nil {
		return time.Time{}, Errorf(EInvalid, "invalid value %s for %s: want a day, YYYY-MM-DD (China Standard Time)", Quote(s), name)
	}
	if d.After(today) {
		return time.Time{}, Errorf(EInvalid, "%s is %s, in the future: the map is known up to today, %s", name, s, today.Format(dayLayout))
	}
	return d, nil
}

// End is when the period ends: the start of the day after To.
func (p Period) End() time.Time { return p.To.AddDate(0, 0, 1) }

// Bounds are the moments that cut the period into its steps, From's
// start first and End last: step i runs from Bounds()[i] (included) to
// Bounds()[i+1] (excluded). Steps begin on the first of a month, a Monday
// or a day's start; the first and last are cut short by the period. It
// stops past MaxSteps + 1 steps, which is enough to tell a period too
// long.
func (p Period) Bounds() []time.Time {
	end := p.End()
	bounds := []time.Time{p.From}
	for t := p.From; t.Before(end) && len(bounds) <= MaxSteps+1; {
		t = nextStep(t, p.Step)
		if t.After(end) {
			t = end
		}
		bounds = append(bounds, t)
	}
	return bounds
}

// nextStep is the start of the step after the one holding t (a day's
// start in DataZone).
func nextStep(t time.Time, step string) time.Time {
	switch step {
	case StepMonth:
		return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, DataZone)
	case StepWeek:
		// Days to the next Monday: 7 from a Monday, 1 from a Sunday.
		return t.AddDate(0, 0, 7-(int(t.Weekday())+6)%7)
	}
	return t.AddDate(0, 0, 1)
}

// Check says, as an EInvalid error, when span (the map's history, as
// HistorySpan read it) does not hold p's days: From must be a day on
// which the history had begun by its end (Span.Check).
func (p Period) Check(span Span) error {
	return span.Check(p.From.AddDate(0, 0, 1).Add(-time.Microsecond))
}

// Stocks are what a region counted at a moment.
type Stocks struct {
	PoorHouseholds    int64 `json:"poor_households"`
	PoorPopulation    int64 `json:"poor_population"`
	VillagesNotExited int64 `json:"villages_not_exited"`
	VillagesExited    int64 `json:"villages_exited"`
}

// Flows are what moved in a region during a step; region_timeline
// (migrations/015_timeline.sql) defines each.
type Flows struct {
	PeopleOut         int64 `json:"people_out"`
	PeopleIn          int64 `json:"people_in"`
	VillagesExited    int64 `json:"villages_exited"`
	VillagesReturned  int64 `json:"villages_returned"`
	VillagesEntered   int64 `json:"villages_entered"`
	PeopleMovedIn     int64 `json:"people_moved_in"`
	ProjectsCompleted int64 `json:"projects_completed"`
	FundsDisbursed    int64 `json:"funds_disbursed"`
	ProjectsFunded    int64 `json:"projects_funded"`
	FundsPlanned      int64 `json:"funds_planned"`
}

// add adds g's flows to f's.
func (f *Flows) add(g Flows) {
	f.PeopleOut += g.PeopleOut
	f.PeopleIn += g.PeopleIn
	f.VillagesExited += g.VillagesExited
	f.VillagesReturned += g.VillagesReturned
	f.VillagesEntered += g.VillagesEntered
	f.PeopleMovedIn += g.PeopleMovedIn
	f.ProjectsCompleted += g.ProjectsCompleted
	f.FundsDisbursed += g.FundsDisbursed
	f.ProjectsFunded += g.ProjectsFunded
	f.FundsPlanned += g.FundsPlanned
}

// TimelineStep is one step of a timeline: the stocks at its close and
// the flows during it.
type TimelineStep struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Stocks Stocks    `json:"stocks"`
	Flows  Flows     `json:"flows"`
}

// Target is what a region is to reach in a year; nil is no target.
type Target struct {
	PoorPeopleOut    *int32 `json:"poor_people_out"`
	VillagesExit     *int32 `json:"villages_exit"`
	RelocationPeople *int32 `json:"relocation_people"`
}

// YearTarget is a region's target for a year.
type YearTarget struct {
	Year int `json:"year"`
	Target
}

// Progress is the share of each figure of a target that a period
// reached, to four places: people_out of poor_people_out, villages_exited
// of villages_exit, people_moved_in of relocation_people; nil where the
// target sets no figure (or sets 0).
type Progress struct {
	PoorPeopleOut    *float64 `json:"poor_people_out"`
	VillagesExit     *float64 `json:"villages_exit"`
	RelocationPeople *float64 `json:"relocation_people"`
}

// Timeline is a region's timeline over a period.
type Timeline struct {
	RegionRef
	From  string         `json:"from"`
	To    string         `json:"to"`
	Step  string         `json:"step"`
	Steps []TimelineStep `json:"steps"`
	// Totals are the flows of the whole period and the stocks at its
	// close.
	Totals struct {
		Stocks Stocks `json:"stocks"`
		Flows  Flows  `json:"flows"`
	} `json:"totals"`
	// Target is the region's target for To's year as it stood at the
	// period's close; nil when it had none.
	Target *YearTarget `json:"target"`
	// Progress is the totals' share of Target; nil without one.
	Progress *Progress `json:"progress"`
}

// sqlRegionRef names region $1.
const sqlRegionRef = `SELECT code, name, level FROM regions WHERE code = $1`

// sqlTimeline reads region $1's steps between the bounds $2.
const sqlTimeline = `SELECT * FROM region_timeline($1, $2)`

// sqlTargetAt reads region $1's target for year $2 as it stood at $3,
// with the shares of it that $4 people out, $5 villages exited and $6
// people moved in reach.
const sqlTargetAt = `SELECT * FROM region_target_at($1, $2, $3, $4, $5, $6)`

// RegionTimeline reads region code's timeline over p. A malformed code is
// EInvalid, an unknown one ENotFound.
func RegionTimeline(ctx context.Context, db DB, code string, p Period) (*Timeline, error) {
	if err := checkCode(code); err != nil {
		return nil, err
	}
	bounds := p.Bounds()
	tl := &Timeline{From: p.From.Format(dayLayout), To: p.To.Format(dayLayout), Step: p.Step,
		Steps: make([]TimelineStep, 0, len(bounds)-1)}
	b := snapshot(db)
	b.Queue(sqlRegionRef, code).QueryRow(func(row pgx.Row) error {
		return row.Scan(&tl.Code, &tl.Name, &tl.Level)
	})
	b.Queue(sqlTimeline, code, bounds).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var s TimelineStep
			k, f := &s.Stocks, &s.Flows
			if err := rows.Scan(&s.Start, &s.End, &k.PoorHouseholds, &k.PoorPopulation, &k.VillagesNotExited, &k.VillagesExited,
				&f.PeopleOut, &f.PeopleIn, &f.VillagesExited, &f.VillagesReturned, &f.VillagesEntered,
				&f.PeopleMovedIn, &f.ProjectsCompleted, &f.FundsDisbursed, &f.ProjectsFunded, &f.FundsPlanned); err != nil {
				return err
			}
			s.Start, s.End = s.Start.In(DataZone), s.End.In(DataZone)
			tl.Steps = append(tl.Steps, s)
			tl.Totals.Flows.add(s.Flows)
			tl.Totals.Stocks = s.Stocks
		}
		return rows.Err()
	})
	if err := send(ctx, db, b); err != nil {
		return nil, regionError(code, err)
	}
	t := tl.Totals.Flows
	var target YearTarget
	var progress Progress
	err := db.QueryRow(ctx, sqlTargetAt, code, p.To.Year(), p.End().Add(-time.Microsecond),
		t.PeopleOut, t.VillagesExited, t.PeopleMovedIn).Scan(
		&target.PoorPeopleOut, &target.VillagesExit, &target.RelocationPeople,
		&progress.PoorPeopleOut, &progress.VillagesExit, &progress.RelocationPeople)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("timeline of %s: target: %w", code, err)
	default:
		target.Year = p.To.Year()
		tl.Target, tl.Progress = &target, &progress
	}
	return tl, nil
}

// checkCode is EInvalid unless code is a statistical code.
func checkCode(code string) error {
	if !regionCode.MatchString(code) {
		return Errorf(EInvalid, "code must be a statistical code of 6 (country, province, city, county), 9 (township) or 12 (village) digits (got %s)", Quote(code))
	}
	return nil
}

// regionError is err, from reading region code, as the error to return:
// ENotFound when the region was not found.
func regionError(code string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return Errorf(ENotFound, "no region has the code %s", code)
	}
	return fmt.Errorf("region %s: %w", code, err)
}
