package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/tiles"
)

// The national scenario (issue 17) measures a country's data beside the
// demo's city: the time the national data set takes to import, then, on
// one server per database, one request at a time, tiles per zoom cold
// and warm, search, and a page of items over the densest box. The lists
// are made the same way from each database's own villages (see
// newNationalList), so that the demo's figures are those of the same
// list shape over less data.

// The lists' shape and how often each request is asked.
const (
	// wholeZoom is the deepest zoom at which a list holds every tile over
	// its villages' extent; deeper, the tiles of sampled villages.
	wholeZoom maptile.Zoom = 5
	// deepestZoom is the deepest zoom the lists hold: the map's.
	deepestZoom maptile.Zoom = 14
	// sampledTiles is how many distinct tiles a list holds at each zoom
	// past wholeZoom, where the data has that many.
	sampledTiles = 40
	// warmPasses is how many times the warm runs ask for each tile.
	warmPasses = 3
	// searchRounds and itemsRounds are how many times each search and the
	// page of items are asked for.
	searchRounds = 10
	itemsRounds  = 20
	// pagesRead and pageLimit are how many pages of villages, with no
	// box, the paging run reads from the first, and how many villages a
	// page holds: what a GIS client reading the whole collection asks.
	pagesRead = 20
	pageLimit = 1000
	// denseBoxLimit is the items page's limit.
	denseBoxLimit = 100
	// boxDegrees is the side of the cells of the grid whose densest cell
	// the page of items is over: at national scale it holds more villages
	// than geo.MaxMatched (about 18,000), so that the page shows where
	// the count stops.
	boxDegrees = 2
	// passLimit bounds a counted pass in time; a pass ends when it has
	// asked for its list, long before.
	passLimit = 30 * time.Minute
	// nationalSuffix names the database -national-data imports into:
	// -database-url's database's name, then this.
	nationalSuffix = "_national"
)

// nationalSearches are the search list: names and code prefixes a user
// types, from a village's full name to one character that most names
// hold, and a suffix tens of thousands of names share.
var nationalSearches = []string{"花茂", "花茂村", "新华村", "遵义", "村", "北京", "5203", "520302", "贵州", "中心村", "朝阳", "社区居委会"}

// importFiles are the national data set's files, in the order they are
// imported, with the layer each loads.
var importFiles = []struct{ layer, file string }{{"regions", "regions.geojson"}, {"villages", "villages.csv"}}

// The limits of issue 17 (item 3) the scenario reports against.
const (
	importLimit    = 5 * time.Minute
	tileBytesLimit = 500_000
	coldTileLimit  = 50 * time.Millisecond
	searchLimit    = 20 * time.Millisecond
	p99Factor      = 1.5
)

// Names of the runs of each database, after its label.
const (
	tilesColdRun = "tiles cold (first request of each)"
	tilesWarmRun = "tiles warm (from the tile cache)"
	// tilesNotifyRun is warm tiles from a server that learns the data's
	// versions by NOTIFY rather than reading them per tile.
	tilesNotifyRun = "tiles warm (versions by NOTIFY)"
	searchRun      = "search (answer cache off)"
	itemsRun       = "items over the densest box (answer cache off)"
	pagesRun       = "items paged from the first, no box (answer cache off)"
	nationalDB     = "national"
	demoDB         = "demo"
)

// runName is the name of what run measured on the database of label.
func runName(label, run string) string { return label + ": " + run }

// villagePointsSQL is every village's code and point.
const villagePointsSQL = `SELECT r.code, ST_X(r.point), ST_Y(r.point) FROM villages v JOIN regions r USING (code)`

// nationalList is what the scenario asks one database for.
type nationalList struct {
	villages int       // the villages the database holds
	extent   orb.Bound // of their points
	tiles    [deepestZoom + 1][]request
	searches []request // one per nationalSearches
	// box is the densest cell of the boxDegrees grid (from 0°), the one
	// holding the most villages, boxVillages of them; items is its page.
	box         orb.Bound
	boxVillages int
	items       request
}

// newNationalList makes the lists from pool's villages. To wholeZoom:
// every tile over their extent, ordered by tileKey. Deeper: the tiles of
// the villages taken in the order of the sampleKey of their code, up to
// sampledTiles distinct tiles a zoom. A village sample is spread as the
// villages are, so the dense provinces weigh as they do in the data.
func newNationalList(ctx context.Context, pool *pgxpool.Pool) (*nationalList, error) {
	type village struct {
		key uint64
		p   orb.Point
	}
	rows, err := pool.Query(ctx, villagePointsSQL)
	if err != nil {
		return nil, fmt.Errorf("village points: %w", err)
	}
	var (
		vs       []village
		code     string
		lon, lat float64
	)
	if _, err := pgx.ForEachRow(rows, []any{&code, &lon, &lat}, func() error {
		vs = append(vs, village{key: sampleKey(code), p: orb.Point{lon, lat}})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("village points: %w", err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("the database has no villages")
	}
	slices.SortFunc(vs, func(a, b village) int { return cmp.Compare(a.key, b.key) })

	l := &nationalList{villages: len(vs), extent: vs[0].p.Bound()}
	cells := map[[2]int]int{}
	for _, v := range vs {
		l.extent = l.extent.Extend(v.p)
		cells[[2]int{boxDegrees * int(math.Floor(v.p.X()/boxDegrees)), boxDegrees * int(math.Floor(v.p.Y()/boxDegrees))}]++
	}
	ts := tiles.CompositeName
	for z := range wholeZoom + 1 {
		list := boundTiles(l.extent, z)
		slices.SortFunc(list, func(a, b maptile.Tile) int { return cmp.Compare(tileKey(a), tileKey(b)) })
		for _, t := range list {
			l.tiles[z] = append(l.tiles[z], request{path: tilePath(ts, t)})
		}
	}
	for z := wholeZoom + 1; z <= deepestZoom; z++ {
		seen := map[maptile.Tile]bool{}
		for _, v := range vs {
			if len(seen) == sampledTiles {
				break
			}
			if t := maptile.At(v.p, z); !seen[t] {
				seen[t] = true
				l.tiles[z] = append(l.tiles[z], request{path: tilePath(ts, t)})
			}
		}
	}
	for _, q := range nationalSearches {
		l.searches = append(l.searches, request{path: "/api/search?q=" + url.QueryEscape(q)})
	}
	// The densest cell; of equal ones, the south-westernmost, so that the
	// pick is the same on every run.
	var best [2]int
	for c, n := range cells {
		if n > l.boxVillages || n == l.boxVillages && (c[0] < best[0] || c[0] == best[0] && c[1] < best[1]) {
			best, l.boxVillages = c, n
		}
	}
	l.box = orb.Bound{Min: orb.Point{float64(best[0]), float64(best[1])}, Max: orb.Point{float64(best[0] + boxDegrees), float64(best[1] + boxDegrees)}}
	l.items = request{
		path: fmt.Sprintf("/collections/%s/items?bbox=%d,%d,%d,%d&limit=%d", geo.Villages.ID,
			best[0], best[1], best[0]+boxDegrees, best[1]+boxDegrees, denseBoxLimit),
		accept: "application/geo+json",
	}
	return l, nil
}

// nationalFigures is what one database's server measured.
type nationalFigures struct {
	list *nationalList
	// The tiles by zoom: cold and warm from the first server, warm from
	// the second, which learns the versions by NOTIFY.
	cold, warm, warmNotify [deepestZoom + 1]*result
	search                 []*result // one per nationalSearches
	items                  *result
	// paged is the pages read from the first, with no box.
	paged *result
	// matched is the dense box's page's numberMatched, -1 when the page
	// leaves it out (the count stopped past geo.MaxMatched).
	matched int64
}

// importStep is one file's import and the time it took.
type importStep struct {
	file string
	took time.Duration
}

// national is the national scenario's state: its section, the pool of
// the demo database, and what run measured, which the targets read.
type national struct {
	sc        *scenario
	demoPool  *pgxpool.Pool
	imported  []importStep // nil when the database was loaded already
	nat, demo *nationalFigures
}

// nationalScenario measures the national database (-national-data or
// -national-database-url) beside pool's, the demo's, by its own run.
func nationalScenario(_ context.Context, pool *pgxpool.Pool) (*scenario, error) {
	n := &national{demoPool: pool}
	n.sc = &scenario{
		title: "National scale",
		unit:  "requests",
		about: fmt.Sprintf("Issue 17: the national data set (`make nationaldata`: a country's provinces, cities, counties, townships "+
			"and villages) beside the demo's city. First, with -national-data, `battlemap import --layer regions regions.geojson`, then "+
			"`--layer villages villages.csv`, each timed from start to exit, into a new, migrated, empty database (`<database>%s` in "+
			"the cluster of -database-url); with -national-database-url, a database loaded already, whose import is not measured. "+
			"Then, for the national database and the demo database (-database-url) in turn, one `battlemap serve` with its answer cache "+
			"off (`--api-cache-bytes 0`: every search and page of items runs its statements) and its tile cache as by default, asked one "+
			"request at a time over one keep-alive connection: the tiles of its list zoom by zoom from z0, each once (cold: the server's "+
			"tile cache is empty, so each tile is made; PostgreSQL's own buffers are as the runs before left them), then the same tiles "+
			"%d times each (warm: from the tile cache); then each of %d searches (`/api/search?q=…`) %d times; then %d times the page "+
			"`/collections/%s/items?bbox=…&limit=%d` over the cell of a %d° grid that holds the most villages, and once more to read its "+
			"`numberMatched`; then, once each, the first %d pages of `/collections/%s/items?limit=%d`, each page's `next` link followed "+
			"(found unmeasured first). Then a second server, the same but with `--version-check notify` (the data's versions learnt by LISTEN/NOTIFY, "+
			"not read per tile as by default), is given every tile of the list once, unmeasured, then asked for them %d times each "+
			"(warm, versions by NOTIFY). Each database's list is made the same way from its own villages: to z%d every tile over their extent; "+
			"deeper, the tiles holding villages taken in the order of the SHA-256 of their code, up to %d distinct tiles a zoom, so that "+
			"dense provinces weigh as they do in the data and the list is the same on every run. The tile rows of the table gather every "+
			"zoom; the zooms are in the table after it. A server's peak RSS is its VmHWM, the whole life of the server.",
			nationalSuffix, warmPasses, len(nationalSearches), searchRounds, itemsRounds, geo.Villages.ID, denseBoxLimit, boxDegrees,
			pagesRead, geo.Villages.ID, pageLimit, warmPasses, wholeZoom, sampledTiles),
		connections: 1,
		timing:      "counted passes, one request at a time, not -duration and -warmup",
		run:         n.run,
	}
	n.sc.targets = n.targets()
	return n.sc, nil
}

// run prepares the national database, makes both lists, then measures
// each database's server in turn, the national first.
func (n *national) run(ctx context.Context, cfg config, pc *pgxpool.Config, pg int) ([]*result, error) {
	natURL, err := n.database(ctx, cfg, pc)
	if err != nil {
		return nil, err
	}
	natPC, err := poolConfig(natURL, 2)
	if err != nil {
		return nil, fmt.Errorf("national database URL: %w", err)
	}
	// This pool serves no request: it vacuums a country's tables and reads
	// its villages, which may take longer than a request may.
	natPC.ConnConfig.RuntimeParams["statement_timeout"] = "0"
	natPool, err := pgxpool.NewWithConfig(ctx, natPC)
	if err != nil {
		return nil, fmt.Errorf("connect to the national database: %w", err)
	}
	defer natPool.Close()
	natCfg := cfg
	natCfg.databaseURL = natURL
	if err := prepare(ctx, natCfg, natPool, func(ctx context.Context) error { return n.load(ctx, natCfg) }); err != nil {
		return nil, fmt.Errorf("national database: %w", err)
	}
	natList, err := newNationalList(ctx, natPool)
	if err != nil {
		return nil, fmt.Errorf("national database: %w", err)
	}
	demoList, err := newNationalList(ctx, n.demoPool)
	if err != nil {
		return nil, fmt.Errorf("demo database: %w", err)
	}
	var runs []*result
	if n.nat, err = measureDatabase(ctx, cfg, pg, natURL, natList, nationalDB, &runs); err != nil {
		return nil, fmt.Errorf("national database: %w", err)
	}
	if n.demo, err = measureDatabase(ctx, cfg, pg, cfg.databaseURL, demoList, demoDB, &runs); err != nil {
		return nil, fmt.Errorf("demo database: %w", err)
	}
	n.sc.detail = n.detail()
	return runs, nil
}

// database is the URL of the national database: -national-database-url,
// or a new database beside -database-url's for -national-data, created
// here once the data set's files are found. An existing one is refused:
// the import is timed into an empty database, and dropping one is not a
// benchmark's business.
func (n *national) database(ctx context.Context, cfg config, pc *pgxpool.Config) (string, error) {
	if cfg.nationalURL != "" {
		return cfg.nationalURL, nil
	}
	for _, f := range importFiles {
		if _, err := os.Stat(filepath.Join(cfg.nationalData, f.file)); err != nil {
			return "", fmt.Errorf("national data set: %w (make nationaldata writes it)", err)
		}
	}
	u, err := url.Parse(cfg.databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("-national-data names its database after -database-url's, which must then be a postgres:// URL; or load a database and give -national-database-url")
	}
	name := pc.ConnConfig.Database + nationalSuffix
	var exists bool
	if err := n.demoPool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return "", fmt.Errorf("database %s exists already: drop it to time a fresh import, or measure it as it is with -national-database-url", name)
	}
	// A name is no parameter: it is quoted as an identifier.
	if _, err := n.demoPool.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	fmt.Fprintf(os.Stderr, "loadbench: created database %s for the national data set\n", name)
	u.Path = "/" + name
	return u.String(), nil
}

// load imports the national data set into cfg's database, which prepare
// found empty, timing each file's `battlemap import`.
func (n *national) load(ctx context.Context, cfg config) error {
	if cfg.nationalData == "" {
		return fmt.Errorf("the database of -national-database-url holds no map data: load it first, or give -national-data")
	}
	for _, f := range importFiles {
		path := filepath.Join(cfg.nationalData, f.file)
		fmt.Fprintf(os.Stderr, "loadbench: importing %s (this takes minutes)\n", path)
		start := time.Now()
		// Info, not warn: the import's progress every few seconds.
		if err := battlemap(ctx, cfg, "import", "--log-level", "info", "--layer", f.layer, path); err != nil {
			return err
		}
		n.imported = append(n.imported, importStep{file: f.file, took: time.Since(start)})
		fmt.Fprintf(os.Stderr, "loadbench: imported %s in %s\n", f.file, n.imported[len(n.imported)-1].took.Round(time.Second))
	}
	return nil
}

// measureDatabase measures list on dbURL with two servers, and appends
// to runs what they measured, gathered into the rows of the runs' table,
// each named after label. The first, with its answer cache off and the
// versions read per tile (the default), is asked for the tiles cold then
// warm, the searches and the page of items; the second, the same with
// `--version-check notify`, for the tiles warm once they have all been
// asked for once unmeasured: what a warm tile costs without the read of
// the versions.
func measureDatabase(ctx context.Context, cfg config, pg int, dbURL string, list *nationalList, label string, runs *[]*result) (*nationalFigures, error) {
	f := &nationalFigures{list: list}
	uncached := []string{"--api-cache-bytes", "0"}
	err := withServer(ctx, cfg, pg, dbURL, uncached, func(c *httpClient, pass passFunc) error {
		var err error
		for z := range deepestZoom + 1 {
			if f.cold[z], err = pass(fmt.Sprintf("%s z%d cold", label, z), list.tiles[z], 1); err != nil {
				return err
			}
		}
		for z := range deepestZoom + 1 {
			if f.warm[z], err = pass(fmt.Sprintf("%s z%d warm", label, z), list.tiles[z], warmPasses); err != nil {
				return err
			}
		}
		for i, q := range nationalSearches {
			r, err := pass(label+" search "+q, list.searches[i:i+1], searchRounds)
			if err != nil {
				return err
			}
			f.search = append(f.search, r)
		}
		if f.items, err = pass(runName(label, itemsRun), []request{list.items}, itemsRounds); err != nil {
			return err
		}
		if f.matched, err = numberMatched(ctx, c, &list.items); err != nil {
			return err
		}
		pages, err := firstPages(ctx, c, pagesRead)
		if err != nil {
			return err
		}
		f.paged, err = pass(runName(label, pagesRun), pages, 1)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = withServer(ctx, cfg, pg, dbURL, append(uncached, "--version-check", "notify"), func(_ *httpClient, pass passFunc) error {
		if _, err := pass(label+" warming", slices.Concat(list.tiles[:]...), 1); err != nil {
			return err
		}
		var err error
		for z := range deepestZoom + 1 {
			if f.warmNotify[z], err = pass(fmt.Sprintf("%s z%d warm, NOTIFY", label, z), list.tiles[z], warmPasses); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range []*result{merged(runName(label, tilesColdRun), f.cold[:]), merged(runName(label, tilesWarmRun), f.warm[:]),
		merged(runName(label, tilesNotifyRun), f.warmNotify[:]), merged(runName(label, searchRun), f.search), f.items, f.paged} {
		printRun(r, "requests")
		*runs = append(*runs, r)
	}
	return f, nil
}

// passFunc asks for each of reqs times times, in turn, one at a time,
// and returns the figures, called name.
type passFunc func(name string, reqs []request, times int) (*result, error)

// withServer starts a server on dbURL with flags and calls measure with
// a client of it and a passFunc that times its requests and the server's
// and PostgreSQL's CPU and memory; the server is stopped when use
// returns.
func withServer(ctx context.Context, cfg config, pg int, dbURL string, flags []string, use func(*httpClient, passFunc) error) error {
	srv, err := startServer(ctx, cfg.serverBin, dbURL, flags)
	if err != nil {
		return err
	}
	defer srv.stop()
	c := newHTTPClient(srv.port, 1)
	defer c.close()
	p := procs{server: srv.pid(), postmaster: pg}
	return use(c, func(name string, reqs []request, times int) (*result, error) {
		run := cfg // this pass's copy
		run.warmup, run.duration = 0, passLimit
		rs, err := measure(ctx, run, p, requestLoad(c, reqs, 1, int64(len(reqs)*times)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rs[0].name = name
		return rs[0], nil
	})
}

// itemsPage is what the scenario reads of a page of items: how many
// matched (nil when the page leaves it out) and its links.
type itemsPage struct {
	NumberMatched *int64 `json:"numberMatched"`
	Links         []struct{ Rel, Href string }
}

// getPage asks c for the page of items r and decodes it.
func getPage(ctx context.Context, c *httpClient, r *request) (itemsPage, error) {
	var page itemsPage
	var body strings.Builder
	if out, _, err := c.get(ctx, r, &body); out != full {
		return page, fmt.Errorf("%s: no page: %v", r.path, err)
	}
	if err := json.Unmarshal([]byte(body.String()), &page); err != nil {
		return page, fmt.Errorf("%s: %w", r.path, err)
	}
	return page, nil
}

// numberMatched asks c for the page of items r and returns its
// numberMatched, -1 when the page leaves it out.
func numberMatched(ctx context.Context, c *httpClient, r *request) (int64, error) {
	page, err := getPage(ctx, c, r)
	if err != nil {
		return 0, err
	}
	if page.NumberMatched == nil {
		return -1, nil
	}
	return *page.NumberMatched, nil
}

// firstPages follows the villages' pages from the first, with no box,
// asking c for each, and returns the requests of the first n (fewer when
// the villages end before).
func firstPages(ctx context.Context, c *httpClient, n int) ([]request, error) {
	r := request{path: fmt.Sprintf("/collections/%s/items?limit=%d", geo.Villages.ID, pageLimit), accept: "application/geo+json"}
	var pages []request
	for len(pages) < n {
		pages = append(pages, r)
		page, err := getPage(ctx, c, &r)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(page.Links, func(l struct{ Rel, Href string }) bool { return l.Rel == "next" })
		if i < 0 {
			break
		}
		next, err := url.Parse(page.Links[i].Href)
		if err != nil {
			return nil, fmt.Errorf("%s: next link: %w", r.path, err)
		}
		r.path = next.RequestURI()
	}
	return pages, nil
}

// targets are issue 17's limits, read from what run measured: the
// import's time, each zoom's largest tile and slowest cold tile, tile
// p99 beside the demo's, search p99, the dense box's count, and as
// figures the servers' peak memory.
func (n *national) targets() []target {
	ts := []target{{
		name: "import of the national data set (regions.geojson, then villages.csv)",
		want: fmt.Sprintf("≤ %.0f min", importLimit.Minutes()),
		check: func(map[string]*result) (string, bool) {
			if n.imported == nil {
				return "not measured: the database was loaded already", false
			}
			var total time.Duration
			var each []string
			for _, s := range n.imported {
				total += s.took
				each = append(each, fmt.Sprintf("%s %s", s.file, s.took.Round(time.Second)))
			}
			return fmt.Sprintf("%s (%s)", total.Round(time.Second), strings.Join(each, ", ")), total <= importLimit
		},
	}}
	for z := range deepestZoom + 1 {
		// zoomFigure checks the national run of zoom z in figures.
		zoomFigure := func(runs func(*nationalFigures) *result, got func(*result) (string, bool)) func(map[string]*result) (string, bool) {
			return func(map[string]*result) (string, bool) {
				if n.nat == nil {
					return "no run", false
				}
				r := runs(n.nat)
				if r.counts[failed] > 0 {
					return fmt.Sprintf("%s errors", count(r.counts[failed])), false
				}
				return got(r)
			}
		}
		ts = append(ts, target{
			name: fmt.Sprintf("z%d largest tile (national)", z),
			want: "≤ " + thousands(tileBytesLimit) + " bytes",
			check: zoomFigure(func(f *nationalFigures) *result { return f.cold[z] }, func(r *result) (string, bool) {
				return thousands(float64(r.maxBytes)) + " bytes", r.maxBytes <= tileBytesLimit
			}),
		}, target{
			name: fmt.Sprintf("z%d slowest tile, cold (national)", z),
			want: "≤ " + ms(coldTileLimit),
			check: zoomFigure(func(f *nationalFigures) *result { return f.cold[z] }, func(r *result) (string, bool) {
				return ms(r.percentile(1)), r.percentile(1) <= coldTileLimit
			}),
		})
	}
	ts = append(ts,
		maxSlowdown(runName(nationalDB, tilesColdRun), runName(demoDB, tilesColdRun), 0.99, p99Factor),
		maxSlowdown(runName(nationalDB, tilesWarmRun), runName(demoDB, tilesWarmRun), 0.99, p99Factor),
		maxSlowdown(runName(nationalDB, tilesNotifyRun), runName(demoDB, tilesNotifyRun), 0.99, p99Factor),
		maxP99(runName(nationalDB, searchRun), searchLimit),
		target{
			name: "numberMatched of the items page over the densest box (national)",
			want: fmt.Sprintf("counts at most %s villages (left out past them)", thousands(geo.MaxMatched)),
			check: func(map[string]*result) (string, bool) {
				if n.nat == nil {
					return "no run", false
				}
				l, m := n.nat.list, n.nat.matched
				held := fmt.Sprintf("the box holds %s", thousands(float64(l.boxVillages)))
				if m < 0 {
					return "left out; " + held, l.boxVillages > geo.MaxMatched
				}
				return thousands(float64(m)) + "; " + held, m == int64(l.boxVillages) && m <= geo.MaxMatched
			},
		})
	for _, label := range []string{nationalDB, demoDB} {
		ts = append(ts, target{
			name: fmt.Sprintf("server peak RSS (%s)", label),
			check: func(runs map[string]*result) (string, bool) {
				peak := peakRSS(runs, func(name string) bool { return strings.HasPrefix(name, label+": ") })
				return mib(peak), peak > 0
			},
		})
	}
	return ts
}

// detail is the figures of each zoom and each search, and the lists and
// boxes they came from, for the section.
func (n *national) detail() string {
	var b strings.Builder
	nat, demo := n.nat, n.demo
	for _, d := range []struct {
		label string
		f     *nationalFigures
	}{{nationalDB, nat}, {demoDB, demo}} {
		l := d.f.list
		fmt.Fprintf(&b, "- %s: %s villages over lon %.2f–%.2f, lat %.2f–%.2f; the densest %d° box, lon %g–%g, lat %g–%g, holds %s",
			d.label, thousands(float64(l.villages)), l.extent.Min.X(), l.extent.Max.X(), l.extent.Min.Y(), l.extent.Max.Y(), boxDegrees,
			l.box.Min.X(), l.box.Max.X(), l.box.Min.Y(), l.box.Max.Y(), thousands(float64(l.boxVillages)))
		if d.f.matched < 0 {
			b.WriteString(", and its page leaves `numberMatched` out\n")
		} else {
			fmt.Fprintf(&b, ", and its page says `numberMatched` %s\n", thousands(float64(d.f.matched)))
		}
	}
	b.WriteString("\nTiles by zoom (latencies p50 / p99 / max; largest is the largest tile's bytes):\n\n")
	b.WriteString("| zoom | tiles: national / demo | national cold | national warm | national warm, NOTIFY | national largest | demo cold | demo warm | demo warm, NOTIFY | demo largest |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	lat := func(r *result) string {
		return ms(r.percentile(0.5)) + " / " + ms(r.percentile(0.99)) + " / " + ms(r.percentile(1))
	}
	for z := range deepestZoom + 1 {
		fmt.Fprintf(&b, "| %d | %d / %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", z, len(nat.list.tiles[z]), len(demo.list.tiles[z]),
			lat(nat.cold[z]), lat(nat.warm[z]), lat(nat.warmNotify[z]), thousands(float64(nat.cold[z].maxBytes)),
			lat(demo.cold[z]), lat(demo.warm[z]), lat(demo.warmNotify[z]), thousands(float64(demo.cold[z].maxBytes)))
	}
	fmt.Fprintf(&b, "\nSearches, each asked %d times (latencies p50 / max; bytes of the answer):\n\n", searchRounds)
	b.WriteString("| q | national | national bytes | demo | demo bytes |\n| --- | ---: | ---: | ---: | ---: |\n")
	for i, q := range nationalSearches {
		r, d := nat.search[i], demo.search[i]
		fmt.Fprintf(&b, "| %s | %s / %s | %s | %s / %s | %s |\n", q, ms(r.percentile(0.5)), ms(r.percentile(1)), thousands(r.meanBytes()),
			ms(d.percentile(0.5)), ms(d.percentile(1)), thousands(d.meanBytes()))
	}
	return b.String()
}
