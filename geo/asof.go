package geo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reading the map as of a past moment. The database keeps every version
// of every row, and of the figures rolled up from them, and shows them as
// of a moment in the schema as_of (migrations/014_as_of.sql), under the
// same names as today's tables. A connection of a pool made by
// PastConfig looks there first, and sets the moment its context carries
// (AtMoment) each time it is taken from the pool: so every read in geo
// and tiles, given such a pool and context, answers as of the moment with
// the same SQL as today's.

// DataZone is the time zone of the map's days: China Standard Time
// (UTC+8, no daylight saving). A day named without a time ("2016-03-31")
// is a day there.
var DataZone = time.FixedZone("CST", 8*60*60)

// dayLayout is how days are written: RFC 3339's full-date.
const dayLayout = time.DateOnly

// ParseMoment reads the moment s names: an RFC 3339 date-time, or a day
// (YYYY-MM-DD, in DataZone), which means the end of that day — the map
// as the day closed — or now, for today. A moment after now is EInvalid:
// the map does not know the future.
func ParseMoment(s string, now time.Time) (time.Time, error) {
	// PostgreSQL keeps microseconds: a finer moment would not come back
	// as it was given, in links and cache keys.
	now = now.Truncate(time.Microsecond)
	if d, err := time.ParseInLocation(dayLayout, s, DataZone); err == nil {
		end := d.AddDate(0, 0, 1).Add(-time.Microsecond)
		if d.After(now) {
			return time.Time{}, Errorf(EInvalid, "the day %s is in the future: the map is known up to today, %s", s, now.In(DataZone).Format(dayLayout))
		}
		if end.After(now) {
			return now, nil
		}
		return end, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1 {
		return time.Time{}, Errorf(EInvalid, "a moment is a day (YYYY-MM-DD, China Standard Time) or an RFC 3339 date-time such as 2016-03-31T18:00:00+08:00 (got %s)", Quote(s))
	}
	t = t.Truncate(time.Microsecond)
	if t.After(now) {
		return time.Time{}, Errorf(EInvalid, "the moment %s is in the future: the map is known up to now, %s", s, now.In(DataZone).Format(time.RFC3339))
	}
	return t, nil
}

// FormatMoment writes t as the pages and links name it: the day, when t
// is the end of a day (what ParseMoment makes of one), else the RFC 3339
// date-time in DataZone.
func FormatMoment(t time.Time) string {
	t = t.In(DataZone)
	if next := t.Add(time.Microsecond); next.Hour() == 0 && next.Minute() == 0 && next.Second() == 0 && next.Nanosecond() == 0 {
		return t.Format(dayLayout)
	}
	return t.Format(time.RFC3339Nano)
}

// Span is when the map's history holds: from its first version to now.
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// HistorySpan reads when the map's history begins; ok is false while
// there is none (no data was ever loaded).
func HistorySpan(ctx context.Context, db DB) (span Span, ok bool, err error) {
	err = db.QueryRow(ctx, `SELECT lower(s), upper(s) FROM history_span() s`).Scan(&span.From, &span.To)
	if errors.Is(err, pgx.ErrNoRows) {
		return Span{}, false, nil
	}
	if err != nil {
		return Span{}, false, fmt.Errorf("history span: %w", err)
	}
	return span, true, nil
}

// CheckMoment says, as an EInvalid error, when the map's history does not
// hold at t: before it begins, or when there is none.
func CheckMoment(ctx context.Context, db DB, t time.Time) error {
	span, _, err := HistorySpan(ctx, db)
	if err != nil {
		return err
	}
	return span.Check(t)
}

// Check is CheckMoment over span as HistorySpan read it (the zero Span
// when there is no history), for a caller that has read it already.
func (span Span) Check(t time.Time) error {
	if span.From.IsZero() {
		return Errorf(EInvalid, "the map has no history yet: nothing can be read as of %s", FormatMoment(t))
	}
	if t.Before(span.From) {
		return Errorf(EInvalid, "%s is before the map's history begins: it runs from %s to now (%s)",
			FormatMoment(t), span.From.In(DataZone).Format(time.RFC3339), span.To.In(DataZone).Format(dayLayout))
	}
	return nil
}

// momentKey is the context key of the moment a read is as of.
type momentKey struct{}

// AtMoment returns a context whose reads, on a pool made by PastConfig,
// are as of t.
func AtMoment(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, momentKey{}, t)
}

// MomentOf is the moment ctx reads as of, if it has one (AtMoment).
func MomentOf(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(momentKey{}).(time.Time)
	return t, ok
}

// PastConfig is pc made into the configuration of a pool that reads the
// past: its sessions look up names in the schema as_of first, are read
// only, and each time a connection is taken for a context with a moment
// (AtMoment) the session is set to it. Taken for a context without one,
// the connection errs rather than read some other time.
func PastConfig(pc *pgxpool.Config) *pgxpool.Config {
	c := pc.Copy()
	c.ConnConfig.RuntimeParams["search_path"] = "as_of, public"
	c.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	c.PrepareConn = func(ctx context.Context, conn *pgx.Conn) (bool, error) {
		t, ok := MomentOf(ctx)
		if !ok {
			return true, errors.New("geo: a read of the past without a moment (geo.AtMoment)")
		}
		if _, err := conn.Exec(ctx, `SELECT set_config('battlemap.at', $1, false)`, t.Format(time.RFC3339Nano)); err != nil {
			return false, fmt.Errorf("geo: read as of %s: %w", t.Format(time.RFC3339Nano), err)
		}
		return true, nil
	}
	return c
}

// Reads are the pools reads are made on: Now for the map as it is, Past
// (made by PastConfig) for the map as of a moment. A context routed to a
// replica (Replicas.Route) reads on the replica's mirror of the pool.
type Reads struct {
	Now, Past *pgxpool.Pool
}

// At is where to read as of at (nil: now): the pool, on the replica ctx
// was routed to if it was, and the context that carries the moment to
// it.
func (r Reads) At(ctx context.Context, at *time.Time) (context.Context, DB) {
	pool := r.Now
	if at != nil {
		ctx, pool = AtMoment(ctx, *at), r.Past
	}
	return ctx, onReplica(ctx, pool)
}

// OpenPast opens a pool that reads the past beside pool: pool's
// configuration made by PastConfig, with a quarter of its connections
// (two at least), since reads of the past are the rarer. It connects only
// when first used.
func OpenPast(pool *pgxpool.Pool) *pgxpool.Pool {
	pc := PastConfig(pool.Config())
	pc.MaxConns = max(2, pc.MaxConns/4)
	pc.MinConns = 0
	past, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		// A copy of a configuration a pool was made with is valid.
		panic("geo: past pool: " + err.Error())
	}
	return past
}
