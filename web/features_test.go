package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/web"
)

const (
	jsonType    = "application/json"
	geoJSONType = "application/geo+json"
	problemType = "application/problem+json"
)

// linkHref is the href of the first link with rel (and media type, if
// given) in a document's links; "" when there is none.
func linkHref(doc map[string]any, rel, mediaType string) string {
	links, _ := doc["links"].([]any)
	for _, l := range links {
		l := l.(map[string]any)
		if l["rel"] == rel && (mediaType == "" || l["type"] == mediaType) {
			return l["href"].(string)
		}
	}
	return ""
}

func TestOGCDocuments(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	tests := []struct {
		name, path string
		header     []string
		check      func(t *testing.T, doc map[string]any)
	}{
		{"landing", "/", nil, checkLanding},
		{"landing f=json", "/?f=json", []string{"Accept", "text/html"}, checkLanding},
		{"landing for any type", "/", []string{"Accept", "*/*"}, checkLanding},
		{"conformance", "/conformance", nil, func(t *testing.T, doc map[string]any) {
			classes := doc["conformsTo"].([]any)
			for _, want := range []string{"core", "geojson"} {
				if !slices.Contains(classes, any("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"+want)) {
					t.Errorf("conformsTo %v lacks %s", classes, want)
				}
			}
		}},
		{"collections", "/collections", nil, func(t *testing.T, doc map[string]any) {
			colls := doc["collections"].([]any)
			var ids []string
			for _, c := range colls {
				ids = append(ids, c.(map[string]any)["id"].(string))
			}
			if want := []string{"provinces", "cities", "counties", "townships", "villages", "sites", "projects", "assignments", "hazard_zones", "roads", "services", "flags"}; !slices.Equal(ids, want) {
				t.Errorf("collections %v, want %v", ids, want)
			}
			if linkHref(doc, "self", "") != "http://example.com/collections" {
				t.Errorf("self link %q, want an absolute URL", linkHref(doc, "self", ""))
			}
		}},
		{"one collection", "/collections/projects", nil, func(t *testing.T, doc map[string]any) {
			if doc["id"] != "projects" || doc["itemType"] != "feature" || doc["geometryType"] != "Geometry" {
				t.Errorf("id, itemType, geometryType = %v, %v, %v", doc["id"], doc["itemType"], doc["geometryType"])
			}
			if crs := doc["crs"].([]any); len(crs) != 1 || crs[0] != "http://www.opengis.net/def/crs/OGC/1.3/CRS84" {
				t.Errorf("crs %v, want CRS84", crs)
			}
			if linkHref(doc, "items", geoJSONType) != "http://example.com/collections/projects/items" ||
				linkHref(doc, "items", "text/csv; charset=utf-8") == "" {
				t.Errorf("links %v, want items as GeoJSON and CSV", doc["links"])
			}
			var queryables []string
			for _, q := range doc["queryables"].([]any) {
				queryables = append(queryables, q.(map[string]any)["name"].(string))
			}
			want := []string{"county", "township", "village", "category", "fund_use", "status", "completion_lt", "completion_gte", "datetime"}
			if !slices.Equal(queryables, want) {
				t.Errorf("queryables %v, want %v", queryables, want)
			}
			if len(doc["properties"].([]any)) == 0 {
				t.Error("no properties described")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, fetchJSON(t, s, tt.path, 200, jsonType, tt.header...))
		})
	}
}

func checkLanding(t *testing.T, doc map[string]any) {
	t.Helper()
	for rel, want := range map[string]string{
		"self": "http://example.com/", "conformance": "http://example.com/conformance", "data": "http://example.com/collections",
	} {
		if got := linkHref(doc, rel, jsonType); got != want {
			t.Errorf("link %s = %q, want %q", rel, got, want)
		}
	}
}

// TestCollectionExtents checks that each collection's extent is that of
// its data.
func TestCollectionExtents(t *testing.T) {
	pool := pgtest.New(t)
	// A province and the country above the city: no collection is empty.
	pgtest.AddProvince(t, pool)
	s := newServer(t, pool, 0)
	geoms := map[string]string{
		"provinces": `SELECT ST_Extent(boundary) FROM regions WHERE level = 'province'`,
		"cities":    `SELECT ST_Extent(boundary) FROM regions WHERE level = 'city'`,
		"counties":  `SELECT ST_Extent(boundary) FROM regions WHERE level = 'county'`,
		"townships": `SELECT ST_Extent(boundary) FROM regions WHERE level = 'township'`,
		"villages":  `SELECT ST_Extent(point) FROM regions WHERE level = 'village'`,
		"sites":     `SELECT ST_Extent(geom) FROM sites`,
		"projects":  `SELECT ST_Extent(geom) FROM projects`,
		"assignments": `SELECT ST_Extent(ST_MakeLine(r.point, s.geom)) FROM relocation_assignments a
			JOIN regions r ON r.code = a.village_code JOIN sites s ON s.code = a.site_code`,
		"hazard_zones": `SELECT ST_Extent(geom) FROM hazard_zones`,
		"roads":        `SELECT ST_Extent(geom) FROM roads`,
		"services":     `SELECT ST_Extent(geom) FROM services`,
		"flags":        `SELECT ST_Extent(geom) FROM flags`,
	}
	doc := fetchJSON(t, s, "/collections", 200, jsonType)
	for _, c := range doc["collections"].([]any) {
		c := c.(map[string]any)
		id := c["id"].(string)
		t.Run(id, func(t *testing.T) {
			var want [4]float64
			err := pool.QueryRow(context.Background(),
				`SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (`+geoms[id]+`) x (e)`).
				Scan(&want[0], &want[1], &want[2], &want[3])
			if err != nil {
				t.Fatal(err)
			}
			spatial := c["extent"].(map[string]any)["spatial"].(map[string]any)
			got := spatial["bbox"].([]any)[0].([]any)
			for i := range want {
				if math.Abs(got[i].(float64)-want[i]) > 1e-9 {
					t.Errorf("bbox %v, want %v", got, want)
					break
				}
			}
			temporal, ok := c["extent"].(map[string]any)["temporal"].(map[string]any)
			if id != "projects" {
				if ok {
					t.Errorf("temporal extent %v on a collection without time", temporal)
				}
				return
			}
			var first, last string
			if err := pool.QueryRow(context.Background(), `SELECT min(start_date)::text, max(end_date)::text FROM projects`).Scan(&first, &last); err != nil {
				t.Fatal(err)
			}
			interval := temporal["interval"].([]any)[0].([]any)
			if interval[0] != first+"T00:00:00+08:00" || interval[1] != last+"T23:59:59+08:00" || temporal["trs"] == nil {
				t.Errorf("temporal extent %v, want the days %s to %s in China Standard Time", temporal, first, last)
			}
		})
	}
}

// TestTemporalExtentIsRFC3339: days RFC 3339 cannot write (1 BC, which
// PostgreSQL's text calls "0001-01-01 BC", or the year 10000), stored
// by a path other than the import, leave that end of the temporal extent
// open rather than spelling it in a way no client reads; the other end
// stays a date-time.
func TestTemporalExtentIsRFC3339(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 0)
	interval := func() [2]any {
		t.Helper()
		doc := fetchJSON(t, s, "/collections/projects", 200, jsonType)
		i := doc["extent"].(map[string]any)["temporal"].(map[string]any)["interval"].([]any)[0].([]any)
		for _, end := range i {
			if end == nil {
				continue
			}
			if _, err := time.Parse(time.RFC3339, end.(string)); err != nil {
				t.Errorf("interval %v: %v", i, err)
			}
		}
		return [2]any{i[0], i[1]}
	}
	var last string
	if err := pool.QueryRow(context.Background(), `SELECT max(end_date)::text FROM projects`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `UPDATE projects SET start_date = '0001-01-01 BC' WHERE code = '520302-P001'`); err != nil {
		t.Fatal(err)
	}
	if got := interval(); got[0] != nil || got[1] != last+"T23:59:59+08:00" {
		t.Errorf("interval %v after a start in 1 BC, want [null, %sT23:59:59+08:00]", got, last)
	}
	if _, err := pool.Exec(ctx, `UPDATE projects SET end_date = '10000-01-01' WHERE code = '520302-P001'`); err != nil {
		t.Fatal(err)
	}
	if got := interval(); got[0] != nil || got[1] != nil {
		t.Errorf("interval %v after an end in 10000, want both ends open", got)
	}
}

func TestItemsGeoJSON(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	tests := []struct {
		collection string
		matched    int64
		geometries []string
	}{
		{"counties", 14, []string{"MultiPolygon"}},
		{"townships", 254, []string{"MultiPolygon"}},
		{"villages", 2093, []string{"Point"}},
		{"sites", 121, []string{"Point"}},
		{"projects", 544, []string{"Point", "LineString"}},
		{"hazard_zones", 230, []string{"MultiPolygon"}},
		{"roads", 305, []string{"MultiLineString"}},
		{"services", 708, []string{"Point"}},
	}
	for _, tt := range tests {
		t.Run(tt.collection, func(t *testing.T) {
			path := "/collections/" + tt.collection + "/items?limit=3"
			doc := fetchJSON(t, s, path, 200, geoJSONType)
			if doc["type"] != "FeatureCollection" {
				t.Errorf("type %v", doc["type"])
			}
			if got := number(t, doc["numberMatched"], "numberMatched"); got != tt.matched {
				t.Errorf("numberMatched %d, want %d", got, tt.matched)
			}
			if got := number(t, doc["numberReturned"], "numberReturned"); got != 3 {
				t.Errorf("numberReturned %d, want 3", got)
			}
			if _, err := time.Parse(time.RFC3339, doc["timeStamp"].(string)); err != nil {
				t.Errorf("timeStamp: %v", err)
			}
			base := "http://example.com/collections/" + tt.collection
			if got := linkHref(doc, "self", geoJSONType); got != base+"/items?limit=3" {
				t.Errorf("self %q", got)
			}
			if got := linkHref(doc, "collection", jsonType); got != base {
				t.Errorf("collection %q, want %q", got, base)
			}
			if got := linkHref(doc, "alternate", "text/csv; charset=utf-8"); got != base+"/items?f=csv&limit=3" {
				t.Errorf("alternate %q", got)
			}
			features := doc["features"].([]any)
			if len(features) != 3 {
				t.Fatalf("%d features, want 3", len(features))
			}
			meta := fetchJSON(t, s, "/collections/"+tt.collection, 200, jsonType)
			var described []string
			for _, p := range meta["properties"].([]any) {
				described = append(described, p.(map[string]any)["name"].(string))
			}
			for _, f := range features {
				f := f.(map[string]any)
				props := f["properties"].(map[string]any)
				if f["type"] != "Feature" || f["id"] == nil || props["code"] != f["id"] {
					t.Errorf("feature type %v, id %v, code %v", f["type"], f["id"], props["code"])
				}
				g := f["geometry"].(map[string]any)
				if !slices.Contains(tt.geometries, g["type"].(string)) || g["coordinates"] == nil {
					t.Errorf("geometry %v, want one of %v", g["type"], tt.geometries)
				}
				// Only the described properties: nothing else, nothing personal, slips out.
				var names []string
				for k := range props {
					names = append(names, k)
				}
				slices.Sort(names)
				want := slices.Sorted(slices.Values(described))
				if !slices.Equal(names, want) {
					t.Errorf("properties %v, want those described: %v", names, want)
				}
			}
		})
	}
}

func TestItem(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	tests := []struct {
		path, name, geometry string
	}{
		{"/collections/villages/items/520304116203", "花茂村村民委员会", "Point"},
		{"/collections/counties/items/520322", "桐梓县", "MultiPolygon"},
		{"/collections/sites/items/520302-S01", "红花岗城区易地扶贫搬迁安置点", "Point"},
		{"/collections/projects/items/520302-P001", "罗庄村种养殖专业合作社扶持", "Point"},
		{"/collections/hazard_zones/items/520302-H01", "黄钟村滑坡隐患区", "MultiPolygon"},
		{"/collections/roads/items/520302-R01", "老城—南关公路", "MultiLineString"},
		{"/collections/services/items/520302001-SC", "老城中心学校", "Point"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			f := fetchJSON(t, s, tt.path, 200, geoJSONType)
			props := f["properties"].(map[string]any)
			if props["name"] != tt.name || f["geometry"].(map[string]any)["type"] != tt.geometry {
				t.Errorf("name %v, geometry %v; want %s, %s", props["name"], f["geometry"], tt.name, tt.geometry)
			}
			if got := linkHref(f, "self", geoJSONType); got != "http://example.com"+tt.path {
				t.Errorf("self %q", got)
			}
		})
	}
}

// walk follows next links from path and returns the ids of every feature
// seen, in order; between is called after each page but the last.
func walk(t *testing.T, s *web.Server, path string, between func(page int, lastID string)) []string {
	t.Helper()
	var ids []string
	var matched int64
	for page := 1; path != ""; page++ {
		doc := fetchJSON(t, s, path, 200, geoJSONType)
		features := doc["features"].([]any)
		for _, f := range features {
			ids = append(ids, f.(map[string]any)["id"].(string))
		}
		// Without inserts between pages, every page counts the same.
		m := number(t, doc["numberMatched"], "numberMatched")
		if between == nil && page > 1 && m != matched {
			t.Errorf("page %d: numberMatched %d, was %d", page, m, matched)
		}
		matched = m
		next := linkHref(doc, "next", geoJSONType)
		if next == "" {
			break
		}
		if between != nil {
			between(page, ids[len(ids)-1])
		}
		u, err := url.Parse(next)
		if err != nil || u.Host != "example.com" {
			t.Fatalf("next link %q is not an absolute URL of this server", next)
		}
		path = u.RequestURI()
	}
	return ids
}

// ids lists the keys sql reads with args, in the order pages follow.
func ids(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// featureIDs are the SQL of the ids of each collection's features, as
// ground truth written apart from the server's own SQL.
var featureIDs = map[string]string{
	"provinces": `SELECT code FROM regions WHERE level = 'province'`,
	"cities":    `SELECT code FROM regions WHERE level = 'city'`,
	"counties":  `SELECT code FROM regions WHERE level = 'county'`,
	"townships": `SELECT code FROM regions WHERE level = 'township'`,
	"villages":  `SELECT code FROM villages`,
	"sites":     `SELECT code FROM sites`,
	"projects":  `SELECT code FROM projects`,
	// An assignment's id is its village and site (geo.AssignmentID).
	"assignments":  `SELECT village_code || '~' || site_code FROM relocation_assignments`,
	"hazard_zones": `SELECT code FROM hazard_zones`,
	"roads":        `SELECT code FROM roads`,
	"services":     `SELECT code FROM services`,
	// A flag's id names its rule, subject and when it was raised.
	"flags": `SELECT id FROM flags`,
}

func TestPagingVisitsEveryFeatureOnce(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 0)
	tests := []struct {
		collection string
		limit      string
	}{
		{"counties", "5"},
		{"townships", "100"},
		{"villages", "700"},
		{"sites", "50"},
		{"projects", "200"},
		{"hazard_zones", "50"},
		{"roads", "100"},
		{"services", "300"},
	}
	for _, tt := range tests {
		t.Run(tt.collection, func(t *testing.T) {
			got := walk(t, s, "/collections/"+tt.collection+"/items?limit="+tt.limit, nil)
			if want := ids(t, pool, featureIDs[tt.collection]); !slices.Equal(got, want) {
				t.Errorf("walked %d features, want each of %d once, in id order", len(got), len(want))
			}
		})
	}
}

// TestPagingUnderInserts walks the sites while others insert: a site that
// sorts before the page already read must not shift the pages (as an
// offset would, repeating a feature), and one that sorts after it must be
// met once.
//
// The API cache is on: pages after the inserts must not come from it.
func TestPagingUnderInserts(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 32<<20)
	before := ids(t, pool, featureIDs["sites"])
	insert := func(code string) {
		t.Helper()
		_, err := pool.Exec(context.Background(), `
			INSERT INTO sites (code, name, type, county_code, geom, capacity_households, capacity_people, progress, status)
			VALUES ($1, '测试安置点', 'town', '520302', ST_SetSRID(ST_MakePoint(106.9, 27.6), 4326), 10, 30, 0, 'planned')`, code)
		if err != nil {
			t.Fatal(err)
		}
	}
	got := walk(t, s, "/collections/sites/items?limit=40", func(page int, lastID string) {
		if page == 1 {
			insert("520302-S00") // sorts first: before the cursor
			insert("520382-S99") // sorts last: after it
		}
	})
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range append(before, "520382-S99") {
		if seen[id] != 1 {
			t.Errorf("site %s seen %d times, want once", id, seen[id])
		}
	}
	if len(got) != len(before)+1 {
		t.Errorf("walked %d sites, want %d (all before the inserts, and the one inserted ahead)", len(got), len(before)+1)
	}
}

// TestFiltersMatchSQL checks each filter and bbox against a count in SQL
// of the same predicate, written independently of the server's SQL.
func TestFiltersMatchSQL(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 0)
	const villages = `SELECT count(*) FROM villages v JOIN regions r ON r.code = v.code WHERE `
	tests := []struct {
		name, collection, query, sql string
	}{
		{"villages of a county", "villages", "county=520322", villages + `v.county_code = '520322'`},
		{"villages of a township not exited", "villages", "township=520304116&status=not_exited",
			villages + `v.township_code = '520304116' AND r.poverty_status = 'not_exited'`},
		{"villages exited", "villages", "status=exited", villages + `r.poverty_status = 'exited'`},
		{"villages never poor", "villages", "status=none", villages + `r.poverty_status = 'none'`},
		{"demonstration villages", "villages", "demonstration=true", villages + `r.demonstration`},
		{"villages in a box", "villages", "bbox=106.8,27.5,107.2,27.9",
			villages + `ST_Intersects(r.point, ST_MakeEnvelope(106.8, 27.5, 107.2, 27.9, 4326))`},
		{"box with a filter", "villages", "bbox=106,27,108,29&status=not_exited&county=520304",
			villages + `ST_Intersects(r.point, ST_MakeEnvelope(106, 27, 108, 29, 4326)) AND r.poverty_status = 'not_exited' AND v.county_code = '520304'`},
		{"box with nothing", "villages", "bbox=0,0,1,1", villages + `false`},
		{"townships of a county", "townships", "county=520322", `SELECT count(*) FROM regions WHERE level = 'township' AND parent_code = '520322'`},
		{"townships in a box", "townships", "bbox=106.9,27.6,107,27.7",
			`SELECT count(*) FROM regions WHERE level = 'township' AND ST_Intersects(boundary, ST_MakeEnvelope(106.9, 27.6, 107, 27.7, 4326))`},
		{"counties in a box", "counties", "bbox=106.9,27.6,107,27.7",
			`SELECT count(*) FROM regions WHERE level = 'county' AND ST_Intersects(boundary, ST_MakeEnvelope(106.9, 27.6, 107, 27.7, 4326))`},
		{"counties not demonstration", "counties", "demonstration=false", `SELECT count(*) FROM regions WHERE level = 'county' AND NOT demonstration`},
		{"urban sites", "sites", "type=urban", `SELECT count(*) FROM sites WHERE type = 'urban'`},
		{"occupied sites", "sites", "status=occupied", `SELECT count(*) FROM sites WHERE status = 'occupied'`},
		{"sites behind", "sites", "progress_lt=50", `SELECT count(*) FROM sites WHERE progress < 50`},
		{"sites of a county well on", "sites", "progress_gte=50&county=520304", `SELECT count(*) FROM sites WHERE progress >= 50 AND county_code = '520304'`},
		{"roads", "projects", "category=road", `SELECT count(*) FROM projects WHERE category = 'road'`},
		{"industry funds", "projects", "fund_use=industry", `SELECT count(*) FROM projects WHERE fund_use = 'industry'`},
		{"completed projects", "projects", "status=completed", `SELECT count(*) FROM projects WHERE status = 'completed'`},
		{"projects behind", "projects", "completion_lt=50", `SELECT count(*) FROM projects WHERE completion < 50`},
		{"water well on", "projects", "completion_gte=50&category=water", `SELECT count(*) FROM projects WHERE completion >= 50 AND category = 'water'`},
		{"projects of a township", "projects", "township=520304116", `SELECT count(*) FROM projects WHERE village_code LIKE '520304116%'`},
		{"projects of a village", "projects", "village=520304116203", `SELECT count(*) FROM projects WHERE village_code = '520304116203'`},
		{"projects of a county", "projects", "county=520382", `SELECT count(*) FROM projects WHERE county_code = '520382'`},
		{"projects under way on a day", "projects", "datetime=2016-06-30",
			`SELECT count(*) FROM projects WHERE start_date <= '2016-06-30' AND end_date >= '2016-06-30'`},
		{"an instant is a day in China", "projects", "datetime=2016-06-29T16:00:00Z",
			`SELECT count(*) FROM projects WHERE start_date <= '2016-06-30' AND end_date >= '2016-06-30'`},
		{"projects meeting a quarter", "projects", "datetime=2016-07-01/2016-09-30",
			`SELECT count(*) FROM projects WHERE start_date <= '2016-09-30' AND end_date >= '2016-07-01'`},
		{"projects still running in 2017", "projects", "datetime=2017-01-01T00:00:00%2B08:00/..",
			`SELECT count(*) FROM projects WHERE end_date >= '2017-01-01'`},
		{"projects begun by March", "projects", "datetime=../2016-03-31", `SELECT count(*) FROM projects WHERE start_date <= '2016-03-31'`},
		{"villages have no time: all match", "villages", "datetime=1990-01-01", `SELECT count(*) FROM villages`},
		{"hazard zones of a county", "hazard_zones", "county=520330", `SELECT count(*) FROM hazard_zones WHERE county_code = '520330'`},
		{"landslides", "hazard_zones", "kind=landslide", `SELECT count(*) FROM hazard_zones WHERE kind = 'landslide'`},
		{"high-risk hazard zones of a county", "hazard_zones", "risk_level=high&county=520330",
			`SELECT count(*) FROM hazard_zones WHERE risk_level = 'high' AND county_code = '520330'`},
		{"hazard zones in a box", "hazard_zones", "bbox=106.2,28.2,106.6,28.6",
			`SELECT count(*) FROM hazard_zones WHERE ST_Intersects(geom, ST_MakeEnvelope(106.2, 28.2, 106.6, 28.6, 4326))`},
		{"roads of a county", "roads", "county=520322", `SELECT count(*) FROM roads WHERE county_code = '520322'`},
		{"village roads", "roads", "class=village", `SELECT count(*) FROM roads WHERE class = 'village'`},
		{"roads in a box", "roads", "bbox=106.8,27.5,107.2,27.9",
			`SELECT count(*) FROM roads WHERE ST_Intersects(geom, ST_MakeEnvelope(106.8, 27.5, 107.2, 27.9, 4326))`},
		{"schools of a county", "services", "kind=school&county=520322", `SELECT count(*) FROM services WHERE kind = 'school' AND county_code = '520322'`},
		{"services of a township", "services", "township=520304116", `SELECT count(*) FROM services WHERE township_code = '520304116'`},
		{"markets", "services", "kind=market", `SELECT count(*) FROM services WHERE kind = 'market'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := count(t, pool, tt.sql)
			doc := fetchJSON(t, s, "/collections/"+tt.collection+"/items?limit=10000&"+tt.query, 200, geoJSONType)
			matched := number(t, doc["numberMatched"], "numberMatched")
			returned := number(t, doc["numberReturned"], "numberReturned")
			if matched != want || returned != want || int64(len(doc["features"].([]any))) != want {
				t.Errorf("numberMatched %d, numberReturned %d; want %d", matched, returned, want)
			}
		})
	}
}

// TestBadInput checks that each bad request is a 400 problem whose detail
// names the parameter at fault, or a 404 for what does not exist.
func TestBadInput(t *testing.T) {
	s := newServer(t, pgtest.New(t), 0)
	tests := []struct {
		path    string
		status  int
		mention string
	}{
		{"/collections/villages/items?colour=red", 400, `"colour"`},
		{"/collections/villages/items?bbox=1,2,3", 400, "bbox"},
		{"/collections/villages/items?bbox=106,27,200,29", 400, "bbox"},
		{"/collections/villages/items?bbox=108,27,106,29", 400, "bbox"},
		{"/collections/villages/items?bbox=a,b,c,d", 400, "bbox"},
		{"/collections/villages/items?limit=0", 400, "limit"},
		{"/collections/villages/items?limit=10001", 400, "limit"},
		{"/collections/villages/items?limit=abc", 400, "limit"},
		{"/collections/villages/items?limit=1&limit=2", 400, "limit"},
		{"/collections/villages/items?status=poor", 400, "status"},
		{"/collections/sites/items?status=exited", 400, "status"},
		{"/collections/villages/items?county=52032", 400, "county"},
		{"/collections/projects/items?completion_lt=101", 400, "completion_lt"},
		{"/collections/sites/items?progress_lt=x", 400, "progress_lt"},
		{"/collections/villages/items?demonstration=1", 400, "demonstration"},
		{"/collections/hazard_zones/items?kind=flood", 400, "kind"},
		{"/collections/hazard_zones/items?risk_level=extreme", 400, "risk_level"},
		{"/collections/roads/items?class=highway", 400, "class"},
		{"/collections/services/items?kind=bank", 400, "kind"},
		{"/collections/services/items/520302001-XX", 404, "520302001-XX"},
		{"/collections/villages/items?f=xml", 400, "f must"},
		{"/collections/projects/items?datetime=0000-01-01", 400, "datetime"},
		{"/collections/projects/items?datetime=2016-01-01/0000-12-31T23:00:00Z", 400, "datetime"},
		{"/collections/villages/items?cursor=%00", 400, "cursor"},
		{"/collections?colour=red", 400, `"colour"`},
		{"/collections/villages?limit=5", 400, `"limit"`},
		{"/?f=xml", 400, "f must"},
		{"/?colour=red", 400, `"colour"`},
		{"/collections/villages/items/520304116203?f=xml", 400, "f must"},
		{"/api/regions/52030", 400, "code"},
		{"/api/regions/abcdef", 400, "code"},
		{"/api/regions/520300?depth=2", 400, `"depth"`},
		{"/api/search?q=", 400, "q must"},
		{"/api/search?q=" + url.QueryEscape(strings.Repeat("村", geo.MaxSearchRunes+1)), 400, "q must"},
		{"/api/search?q=x&limit=0", 400, "limit"},
		{"/api/search?q=x&page=2", 400, `"page"`},
		{"/collections/rivers", 404, "counties, townships, villages, sites, projects"},
		{"/collections/rivers/items", 404, "rivers"},
		{"/collections/villages/items/520300", 404, "520300"},
		{"/api/regions/999999", 404, "999999"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			doc := fetchJSON(t, s, tt.path, tt.status, problemType)
			detail, _ := doc["detail"].(string)
			if number(t, doc["status"], "status") != int64(tt.status) || !strings.Contains(detail, tt.mention) {
				t.Errorf("problem %v, want status %d and a detail naming %s", doc, tt.status, tt.mention)
			}
		})
	}
}

func TestItemsCSV(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 0)
	tests := []struct {
		query    string
		rows     int64
		geometry []string // the header's last columns
		next     bool
	}{
		{"/collections/villages/items?f=csv&county=520322&limit=10000",
			count(t, pool, `SELECT count(*) FROM villages WHERE county_code = '520322'`), []string{"lon", "lat"}, false},
		{"/collections/sites/items?f=csv&limit=10", 10, []string{"lon", "lat"}, true},
		{"/collections/projects/items?f=csv&category=road", count(t, pool, `SELECT count(*) FROM projects WHERE category = 'road'`), []string{"wkt"}, false},
		{"/collections/counties/items?f=csv", 14, []string{"wkt"}, false},
		{"/collections/villages/items/520304116203?f=csv", 1, []string{"lon", "lat"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := do(t, s, tt.query, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			rest, ok := bytes.CutPrefix(body, []byte("\xef\xbb\xbf"))
			if !ok {
				t.Fatalf("body starts % x, want the UTF-8 byte order mark", body[:min(len(body), 3)])
			}
			records, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			header := records[0]
			if header[0] != "code" || !slices.Equal(header[len(header)-len(tt.geometry):], tt.geometry) {
				t.Errorf("header %v, want code first and %v last", header, tt.geometry)
			}
			if got := int64(len(records) - 1); got != tt.rows {
				t.Errorf("%d rows, want %d", got, tt.rows)
			}
			last := records[1][len(header)-1]
			if tt.geometry[0] == "wkt" && !strings.HasPrefix(last, "POINT") && !strings.HasPrefix(last, "LINESTRING") && !strings.HasPrefix(last, "MULTIPOLYGON") {
				t.Errorf("wkt %.40q", last)
			}
			if link := resp.Header.Get("Link"); (link != "") != tt.next || (tt.next && !strings.Contains(link, `rel="next"`)) {
				t.Errorf("Link %q, want a next link: %v", link, tt.next)
			}
		})
	}
	// Chinese text arrives intact.
	_, body := do(t, s, "/collections/villages/items?f=csv&limit=1&cursor=520304116202", nil)
	if !strings.Contains(string(body), "花茂村村民委员会") {
		t.Errorf("CSV lacks 花茂村村民委员会: %.200q", body)
	}
}

// TestItemsCSVNeutralisesFormulas: a text cell that a spreadsheet would
// run as a formula (OWASP's CSV injection: it begins with =, +, -, @, tab
// or carriage return) comes back in the CSV prefixed with a single
// quote, while the GeoJSON keeps the name as it is stored; numbers,
// negative ones included, stay bare.
func TestItemsCSVNeutralisesFormulas(t *testing.T) {
	pool := pgtest.New(t)
	s := newServer(t, pool, 0)
	const site = "520302-S01"
	tests := []struct {
		name, stored, cell string
	}{
		{"HYPERLINK", `=HYPERLINK("http://x","y")`, `'=HYPERLINK("http://x","y")`},
		{"plus", "+1", "'+1"},
		{"minus", "-1+1", "'-1+1"},
		{"at", "@SUM(1)", "'@SUM(1)"},
		{"tab", "\tx", "'\tx"},
		{"carriage return", "\rx", "'\rx"},
		{"formula later in the name", "安置点=1", "安置点=1"},
		{"plain", "新建安置点", "新建安置点"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pool.Exec(context.Background(), `UPDATE sites SET name = $1 WHERE code = $2`, tt.stored, site); err != nil {
				t.Fatal(err)
			}
			_, body := do(t, s, "/collections/sites/items/"+site+"?f=csv", nil)
			records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))).ReadAll()
			if err != nil || len(records) != 2 {
				t.Fatalf("CSV %q: %d records (%v), want a header and one", body, len(records), err)
			}
			header, row := records[0], records[1]
			name := slices.Index(header, "name")
			// encoding/csv turns a quoted \r\n into \n but keeps a lone \r.
			if got := row[name]; got != tt.cell {
				t.Errorf("CSV name %q, want %q", got, tt.cell)
			}
			if lon := row[slices.Index(header, "lon")]; strings.HasPrefix(lon, "'") {
				t.Errorf("lon %q: a number must stay bare", lon)
			}
			doc := fetchJSON(t, s, "/collections/sites/items/"+site, 200, geoJSONType)
			if got := doc["properties"].(map[string]any)["name"]; got != tt.stored {
				t.Errorf("GeoJSON name %q, want %q unchanged", got, tt.stored)
			}
		})
	}
	// A negative number is written bare: a spreadsheet reads it as a
	// value, not as a formula.
	if _, err := pool.Exec(context.Background(), `UPDATE sites SET geom = ST_SetSRID(ST_MakePoint(-1.5, 27.6), 4326) WHERE code = $1`, site); err != nil {
		t.Fatal(err)
	}
	_, body := do(t, s, "/collections/sites/items/"+site+"?f=csv", nil)
	if !strings.Contains(string(body), ",-1.5,27.6") {
		t.Errorf("CSV %q, want the negative longitude bare: ,-1.5,27.6", body)
	}
}
