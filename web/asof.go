package web

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// readAt is where a read as of at (nil: now) runs: the context carrying
// the moment and the pool that reads the past, or ctx and the server's
// pool, either on the replica ctx was routed to if it was (see
// fromCache). A moment before the map's history begins is an EInvalid
// error naming the span there is (the future was refused when at was
// parsed).
func (s *Server) readAt(ctx context.Context, at *time.Time) (context.Context, geo.DB, error) {
	if at != nil {
		if err := geo.CheckMoment(ctx, s.pool, *at); err != nil {
			return nil, nil, err
		}
	}
	ctx, db := s.reads.At(ctx, at)
	return ctx, db, nil
}

// now is where a read of the map as it is runs: the server's pool, or
// its mirror on the replica ctx was routed to (see fromCache).
func (s *Server) now(ctx context.Context) geo.DB {
	_, db := s.reads.At(ctx, nil)
	return db
}

// historyDoc is the body of GET /api/history.
type historyDoc struct {
	// From and To are RFC 3339 instants; null while the map has no
	// history.
	From *time.Time `json:"from"`
	To   *time.Time `json:"to"`
	// Zone is the time zone a day without a time is read in.
	Zone string `json:"zone"`
}

// history serves GET /api/history: when the map's history begins and
// that it runs to now, the range a date control offers and ?at= takes.
// Never cached: its end is now.
func (s *Server) history(c *fiber.Ctx) error {
	if _, err := ogc.ParseFormat(rawQuery(c), ogc.FormatJSON); err != nil {
		return err
	}
	span, ok, err := geo.HistorySpan(c.UserContext(), s.pool)
	if err != nil {
		return err
	}
	d := historyDoc{Zone: "+08:00"}
	if ok {
		from, to := span.From.In(geo.DataZone), span.To.In(geo.DataZone)
		d.From, d.To = &from, &to
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(d)
}
