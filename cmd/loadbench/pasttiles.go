package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/tiles"
)

// pastDay is the day the tiles of the past are drawn as of: the end of
// the first quarter of the demo's history, when the map differs from
// today's in every county (migrations/014_as_of.sql,
// geo/demo/data/SOURCES.md). On data whose history begins later, the
// middle of its history is taken instead.
const pastDay = "2016-03-31"

// todayRun is the run of today's tiles' SQL beside the past's.
const todayRun = "raw PostGIS, today's tiles (no HTTP)"

// pastTileScenario asks for the tiles of tileList as of pastDay, made on
// a pool that reads the past as the server's does (geo.PastConfig). The
// raw-SQL run is those tiles' own statements at that moment; beside it,
// as the ceiling, the same tiles of today, so that the two compare in one
// run: issue 15 wants a tile of the past within 3× the cold time of
// today's.
func pastTileScenario(ctx context.Context, pool *pgxpool.Pool) (*scenario, error) {
	ts, ok := tiles.Tilesets()[tiles.CompositeName]
	if !ok {
		return nil, fmt.Errorf("no %q tileset", tiles.CompositeName)
	}
	span, ok, err := geo.HistorySpan(ctx, pool)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("the database has no history to draw tiles of")
	}
	moment, err := geo.ParseMoment(pastDay, time.Now())
	if err != nil {
		return nil, err
	}
	if moment.Before(span.From) {
		moment = span.From.Add(span.To.Sub(span.From) / 2).Truncate(time.Microsecond)
	}
	at := geo.FormatMoment(moment)
	pc := pool.Config()
	for k, v := range tiles.SessionParams() {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	// The past's own pool, as large as the load's: its twins do not use
	// the pool they are given, whose sessions read today.
	pastPC := geo.PastConfig(pc)
	pastPC.MaxConns = pc.MaxConns
	past, err := pgxpool.NewWithConfig(ctx, pastPC)
	if err != nil {
		return nil, fmt.Errorf("past pool: %w", err)
	}
	list := tileList()
	reqs := make([]request, 0, len(list))
	for _, t := range list {
		sql := ts.Query(int(t.Z))
		today := tileTwin(sql, t)
		reqs = append(reqs, request{
			path: fmt.Sprintf("%s/%d/%d/%d.mvt", tiles.PastPath(ts.Name, at), t.Z, t.X, t.Y),
			twin: func(ctx context.Context, _ *pgxpool.Pool) (int, error) {
				return today(geo.AtMoment(ctx, moment), past)
			},
			ceiling: today,
		})
	}
	const cacheOff, cacheWarm = "as of, cache off", "as of, cache warm (versions read per tile)"
	return &scenario{
		title: "Tiles of the past",
		unit:  "tiles",
		about: fmt.Sprintf("The %d tiles of the Tiles list, as of %s, from `%s/{z}/{x}/{y}.mvt`: the same statements as today's "+
			"on connections that read the as_of schema (migrations/014_as_of.sql) at that moment. %s runs them; %s runs today's tiles "+
			"on the same connections' settings, the cold time a tile of the past is measured against.",
			len(reqs), at, tiles.PastPath(ts.Name, at), ceilingRun, todayRun),
		requests: reqs,
		ceiling:  todayRun,
		session:  tiles.SessionParams(),
		servers: []serverRun{
			{name: cacheOff, flags: []string{"--tile-cache-bytes", "0"}},
			{name: cacheWarm, warm: true},
		},
		targets: []target{
			maxSlowdown(ceilingRun, todayRun, 0.50, 3),
			maxSlowdown(ceilingRun, todayRun, 0.99, 3),
			ratio(cacheOff, ceilingRun),
			ratio(cacheWarm, cacheOff),
			maxRSS(300 << 20),
		},
		close: past.Close,
	}, nil
}

// maxSlowdown wants run's latency at percentile share to be at most
// factor times base's.
func maxSlowdown(run, base string, share, factor float64) target {
	return target{
		name: fmt.Sprintf("%s p%.0f latency ÷ %s's", run, share*100, base),
		want: fmt.Sprintf("≤ %g×", factor),
		check: func(runs map[string]*result) (string, bool) {
			r, why := clean(runs, run)
			if r == nil {
				return why, false
			}
			b, why := clean(runs, base)
			if b == nil {
				return why, false
			}
			got, of := r.percentile(share), b.percentile(share)
			if of == 0 {
				return base + " answered nothing", false
			}
			x := float64(got) / float64(of)
			return fmt.Sprintf("%.2f× (%s ÷ %s)", x, ms(got), ms(of)), x <= factor
		},
	}
}
