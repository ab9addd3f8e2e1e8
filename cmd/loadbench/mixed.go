package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// mixedConnections is the mixed scenario's concurrency, the hardening
// issue's 200 clients: far more than the server's 16 database
// connections, so that requests that miss its caches queue for the pool.
const mixedConnections = 200

// drillDownLevels are the regions the mixed list drills down to, by
// level, with the share of each level's regions kept: 1 in every, picked
// by the sampleKey of the code. "top" is the regions without a parent
// (the city), where the pages start. Every county, and enough townships
// and villages that the drill-down steps weigh about as much as the
// GeoJSON pages.
var drillDownLevels = []struct {
	level string
	every uint64
}{{"top", 1}, {"county", 1}, {"township", 4}, {"village", 16}}

// regionLevelsSQL lists every region's code and level, "top" for the
// regions without a parent, which are whatever level the data makes them.
const regionLevelsSQL = `SELECT code, CASE WHEN parent_code IS NULL THEN 'top' ELSE level END FROM regions ORDER BY code`

// drillDownList is GET /api/regions, where the pages learn the city,
// then a drill-down step, /api/regions/{code}, for the regions of pool's
// database that drillDownLevels keeps. It returns how many of each level
// it kept, in drillDownLevels' order. The requests have no twins: the
// mixed scenario runs none.
func drillDownList(ctx context.Context, pool *pgxpool.Pool) ([]request, []int, error) {
	every := map[string]uint64{}
	for _, l := range drillDownLevels {
		every[l.level] = l.every
	}
	rows, err := pool.Query(ctx, regionLevelsSQL)
	if err != nil {
		return nil, nil, fmt.Errorf("region codes: %w", err)
	}
	kept := map[string]int{}
	reqs := []request{{path: "/api/regions"}}
	var code, level string
	_, err = pgx.ForEachRow(rows, []any{&code, &level}, func() error {
		n, ok := every[level]
		if !ok {
			// A level the list does not know would silently drop out of it.
			return fmt.Errorf("region %s: level %q is not in the drill-down list", code, level)
		}
		if sampleKey(code)%n == 0 {
			reqs = append(reqs, request{path: "/api/regions/" + code})
			kept[level]++
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("region codes: %w", err)
	}
	counts := make([]int, len(drillDownLevels))
	for i, l := range drillDownLevels {
		if kept[l.level] == 0 {
			return nil, nil, fmt.Errorf("no %s region to drill down to", l.level)
		}
		counts[i] = kept[l.level]
	}
	return reqs, counts, nil
}

// mixedScenario is what a map screen and its drill-down ask for
// together, from many clients at once: the tiles scenario's tiles, the
// geojson scenario's pages, each with its Accept header, and the
// drill-down steps of drillDownList, interleaved by the sampleKey of the
// path. It loads the server as it runs by default, with
// mixedConnections clients, cold then warm, and wants every request
// answered with 200 or 204.
//
// It has no SQL runs: the SQL of its tiles and pages is measured by
// their own scenarios, and a pool of 200 connections would measure a
// database the server, with its 16, never sees.
func mixedScenario(ctx context.Context, pool *pgxpool.Pool) (*scenario, error) {
	tileSc, err := tileScenario(ctx, pool)
	if err != nil {
		return nil, err
	}
	pageSc, err := geoJSONScenario(ctx, pool)
	if err != nil {
		return nil, err
	}
	drill, perLevel, err := drillDownList(ctx, pool)
	if err != nil {
		return nil, err
	}
	reqs := slices.Concat(tileSc.requests, pageSc.requests, drill)
	// By the key of the path, so that every stretch of the list, and a
	// run cut off part-way through a pass, holds the same mix of kinds.
	slices.SortFunc(reqs, func(a, b request) int { return cmp.Compare(sampleKey(a.path), sampleKey(b.path)) })

	levels := ""
	for i, l := range drillDownLevels {
		if i > 0 {
			levels += ", "
		}
		levels += fmt.Sprintf("%s %d", l.level, perLevel[i])
		if l.every > 1 {
			levels += fmt.Sprintf(" (1 in %d)", l.every)
		}
	}
	about := fmt.Sprintf("%d requests, one list: the %d tiles of the Tiles section, the %d pages of the GeoJSON items section "+
		"(with their `Accept: application/geo+json`), and %d drill-down steps: `/api/regions` once, then `/api/regions/{code}` for "+
		"the regions read from the database (%s; the top region is the one without a parent, the others are sampled by the "+
		"SHA-256 of their code). The list is ordered by the SHA-256 of each path, so the three kinds are interleaved and the "+
		"list is the same on every run. %d clients, many more than the server's 16 database connections, load one server "+
		"started with its default flags (caches on, versions read per request, request timeout 30 s), twice: cold, a fresh "+
		"server with no warm-up at all, so the clock starts with its caches empty and the first pass fills them under load; "+
		"then warm, a fresh server given the whole list once before the usual warm-up. There is no raw-SQL run: the tiles' and "+
		"pages' SQL is measured in their own sections, and this scenario is about the server under many clients. Every "+
		"request must be answered, with 200 or 204: a non-2xx answer is counted by status in the other status column.",
		len(reqs), len(tileSc.requests), len(pageSc.requests), len(drill), levels, mixedConnections)
	const cold, warm = "cold (default flags)", "warm (default flags)"
	return &scenario{
		title:       "Mixed tiles, items and drill-down",
		unit:        "requests",
		about:       about,
		requests:    reqs,
		serverOnly:  true,
		connections: mixedConnections,
		servers: []serverRun{
			{name: cold, cold: true},
			{name: warm, warm: true},
		},
		targets: []target{
			none(cold, failed, "errors"),
			none(cold, other, "non-2xx answers"),
			none(warm, failed, "errors"),
			none(warm, other, "non-2xx answers"),
		},
	}, nil
}
