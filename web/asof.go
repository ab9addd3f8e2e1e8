package web

import (
	"context"
	"time"

	"github.com/zunyi/battlemap/geo"
)

// readAt is where a read as of at (nil: now) runs: the context carrying
// the moment and the pool that reads the past, or ctx and the server's
// pool. A moment before the map's history begins is an EInvalid error
// naming the span there is (the future was refused when at was parsed).
func (s *Server) readAt(ctx context.Context, at *time.Time) (context.Context, geo.DB, error) {
	if at == nil {
		return ctx, s.pool, nil
	}
	if err := geo.CheckMoment(ctx, s.pool, *at); err != nil {
		return nil, nil, err
	}
	ctx, db := s.reads.At(ctx, at)
	return ctx, db, nil
}
