package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// The GeoJSON list: boxes of a 0.1° grid over zunyi, as many as
// boxCount, each asked for with limit itemsLimit.
const (
	boxCount   = 200
	itemsLimit = 1000
)

// gridBoxes is every cell of the 0.1° grid that tiles the zunyi bound,
// as bbox values ("minLon,minLat,maxLon,maxLat", one decimal, as a
// client would write them), ordered by their sampleKey, so that the
// sample is spread over the whole bound and the same on every run.
func gridBoxes() []string {
	// In tenths of a degree, so that the corners are exact decimals.
	tenths := func(deg float64) int { return int(math.Round(deg * 10)) }
	deg := func(t int) string { return strconv.FormatFloat(float64(t)/10, 'f', 1, 64) }
	var boxes []string
	for x := tenths(zunyi.Min.X()); x < tenths(zunyi.Max.X()); x++ {
		for y := tenths(zunyi.Min.Y()); y < tenths(zunyi.Max.Y()); y++ {
			boxes = append(boxes, deg(x)+","+deg(y)+","+deg(x+1)+","+deg(y+1))
		}
	}
	slices.SortFunc(boxes, func(a, b string) int { return cmp.Compare(sampleKey(a), sampleKey(b)) })
	return boxes
}

// itemsTwin runs the statement of the items request for s as the server
// does, through geo.Items; the body is the features as the database
// wrote them, passed on raw.
func itemsTwin(s geo.Selection) twin {
	return func(ctx context.Context, pool *pgxpool.Pool) (int, error) {
		f, err := geo.Items(ctx, pool, s, geo.GeoJSON)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		n := 0
		for f.Next() {
			n += len(f.Feature())
		}
		return n, f.Err()
	}
}

// featureCollectionCeiling writes the page s selects as one
// FeatureCollection in one statement, through geo.FeatureCollection: the
// least PostGIS alone does for the page.
func featureCollectionCeiling(s geo.Selection) twin {
	return func(ctx context.Context, pool *pgxpool.Pool) (int, error) {
		fc, err := geo.FeatureCollection(ctx, pool, s)
		return len(fc), err
	}
}

// geoJSONScenario asks for the villages of boxCount boxes as GeoJSON:
// the first cells of gridBoxes that hold at least one village, so that
// every request has features to encode. Which cells hold one is the
// server's own answer, numberMatched, read through geo.Items.
func geoJSONScenario(ctx context.Context, pool *pgxpool.Pool) (*scenario, error) {
	villages, err := geo.CollectionByID("villages")
	if err != nil {
		return nil, err
	}
	grid := gridBoxes()
	var (
		reqs    []request
		matched []int64 // villages in each box kept
		seen    int     // cells looked at
	)
	for _, box := range grid {
		if len(reqs) == boxCount {
			break
		}
		seen++
		raw := fmt.Sprintf("bbox=%s&limit=%d", box, itemsLimit)
		q, err := ogc.ParseItems(villages, raw)
		if err != nil {
			return nil, err
		}
		page, err := geo.Items(ctx, pool, q.Selection, geo.GeoJSON)
		if err != nil {
			return nil, err
		}
		page.Close()
		if page.Matched == 0 {
			continue
		}
		matched = append(matched, page.Matched)
		reqs = append(reqs, request{path: "/collections/" + villages.ID + "/items?" + raw, accept: "application/geo+json",
			twin: itemsTwin(q.Selection), ceiling: featureCollectionCeiling(q.Selection)})
	}
	if len(reqs) < boxCount {
		return nil, fmt.Errorf("only %d of the %d cells of the grid hold a village; want %d", len(reqs), len(grid), boxCount)
	}
	var sum int64
	for _, m := range matched {
		sum += m
	}
	slices.Sort(matched)
	about := fmt.Sprintf("%d pages of the `%s` collection, each asked for as `/collections/%s/items?bbox=…&limit=%d` "+
		"with `Accept: application/geo+json`. The boxes are cells of a 0.1° grid over lon %g–%g, lat %g–%g (%d cells), "+
		"taken in the order of the SHA-256 of their `bbox` value, so that on the same data the list is the same on every run: "+
		"the first %d that hold at least one village (`numberMatched` ≥ 1), out of %d looked at. "+
		"A box holds %.1f villages on average (median %d, least %d, most %d). "+
		"The ceiling, %s, is each page as one GeoJSON FeatureCollection that PostgreSQL writes whole in one prepared statement "+
		"(`geo.FeatureCollection`: `string_agg` of `ST_AsGeoJSON` of each feature's record, with `numberMatched` "+
		"counted over the same scan; no ids, no links), read through pgx. "+
		"The raw-SQL twin, %s, is the statement the server runs (`geo.Items`: the count, the envelope's figures and "+
		"each feature's GeoJSON, one row per feature), its rows read raw; its mean bytes are those of the features. "+
		"The server runs three times: with its answer cache off (`--api-cache-bytes 0`: every request runs the statement), "+
		"then warm with its default flags (the answers of the list kept, and the data version read per request, shared by "+
		"requests that arrive together), then warm with `--version-check notify` (the version learnt from LISTEN/NOTIFY, no read).",
		len(reqs), villages.ID, villages.ID, itemsLimit, zunyi.Min.X(), zunyi.Max.X(), zunyi.Min.Y(), zunyi.Max.Y(), len(grid),
		boxCount, seen, float64(sum)/float64(len(matched)), matched[len(matched)/2], matched[0], matched[len(matched)-1],
		featureCollectionRun, ceilingRun)
	const cacheOff, cacheWarm, cacheWarmNotify = "cache off", "cache warm (default: versions read per request)", "cache warm (versions by NOTIFY)"
	return &scenario{
		title:    "GeoJSON items",
		unit:     "requests",
		about:    about,
		requests: reqs,
		ceiling:  featureCollectionRun,
		servers: []serverRun{
			{name: cacheOff, flags: []string{"--api-cache-bytes", "0"}},
			{name: cacheWarm, warm: true},
			{name: cacheWarmNotify, warm: true, flags: []string{"--version-check", "notify"}},
		},
		targets: []target{
			shareOf(cacheWarm, ceilingRun, 0.80),
			shareOf(cacheOff, featureCollectionRun, 0.60),
			maxServerCPU(cacheOff, 80*time.Microsecond),
		},
	}, nil
}
