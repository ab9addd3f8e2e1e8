package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgcluster"
)

// editWriters is how many writers edit at once, as the issue asks: as
// many as the server's database connections.
const editWriters = 16

// The SQL of the edits scenario.
const (
	// sqlBusiestCounty is the county with the most villages: the most
	// rows to deal out to the writers.
	sqlBusiestCounty  = `SELECT county_code FROM villages GROUP BY county_code ORDER BY count(*) DESC, county_code LIMIT 1`
	sqlCountyVillages = `SELECT code, cooperatives FROM villages WHERE county_code = $1 ORDER BY code`
	// sqlOtherVillages is every village outside the busiest county, by
	// county: the spread runs' rows.
	sqlOtherVillages = `SELECT code, cooperatives, county_code FROM villages WHERE county_code <> $1 ORDER BY county_code, code`
	// sqlSetCooperatives is the raw edit: the row only, its triggers
	// doing the rest.
	sqlSetCooperatives = `UPDATE villages SET cooperatives = $2 WHERE code = $1`
	// sqlRestoreCooperatives puts back the values the run found.
	sqlRestoreCooperatives = `UPDATE villages v SET cooperatives = o.cooperatives
FROM unnest($1::text[], $2::int[]) o (code, cooperatives) WHERE v.code = o.code AND v.cooperatives <> o.cooperatives`
)

// Names of the edits scenario's runs.
const (
	rawUpdateRun   = "raw PostGIS: UPDATE in a transaction (no HTTP)"
	patchAloneRun  = "PATCH, 16 writers alone"
	tilesAloneRun  = "tiles alone (cache warm, default flags)"
	tilesBesideRun = "tiles beside 16 writers"
	patchBesideRun = "PATCH, 16 writers beside tiles"
	rawSpreadRun   = "raw PostGIS: UPDATE in a transaction, 16 writers, a county each (no HTTP)"
	patchSpreadRun = "PATCH, 16 writers, a county each"
)

// village is a village one writer owns, and its cooperatives as that
// writer last set them in the raw run.
type village struct {
	code         string
	cooperatives int32
}

// edits is what the edits scenario's runs share: the county edited, its
// villages dealt out to the writers, and the signed-in user they edit as.
type edits struct {
	county   string
	original []village   // every village of the county, as found
	owned    [][]village // each writer's villages, disjoint
	actor    geo.Actor   // the user's, for the raw run
	token    string      // the user's Bearer token
	// The spread runs': the villages of the other counties as found,
	// dealt out a county to a writer, and an admin who may edit them all.
	others        []village
	otherCounties int
	spread        [][]village
	admin         geo.Actor
	adminToken    string
	role          string    // the database role the raw run and the server connect as
	roleNote      string    // markdown: which role that is, and why
	items         string    // the path of the villages' items, ending in "/"
	tiles         []request // the tiles scenario's list
}

// editsScenario edits the villages of the county that has the most, with
// editWriters writers each owning every editWriters-th village, first
// straight on PostGIS, then through the server's PATCH, alone and beside
// the tiles scenario's list, which is also loaded alone.
func editsScenario(ctx context.Context, pool *pgxpool.Pool) (*scenario, error) {
	e, err := newEdits(ctx, pool)
	if err != nil {
		return nil, err
	}
	about := fmt.Sprintf("Edits of the %d villages of county %s, the county with the most, by %d writers, each owning "+
		"every %dth village (%d or %d each), so that no two writers edit the same row. A writer loops over its villages: "+
		"`GET /collections/villages/items/{code}` for the ETag and the village's `cooperatives`, then "+
		"`PATCH /collections/villages/items/{code}` with `Content-Type: application/merge-patch+json`, `If-Match` that "+
		"ETag, `Authorization: Bearer` the token of a county user of %s, and `{\"properties\":{\"cooperatives\":N}}`, N "+
		"the value read with its lowest bit flipped, so that every PATCH changes the row. A PATCH run counts and times the "+
		"PATCH alone: its requests/s are successful PATCHes (200), its latencies the PATCH's; a GET that fails counts as "+
		"an error and sends no PATCH; a 412 (another writer's edit got in first, which disjoint villages should never see) "+
		"is counted by status, and has a target of its own. The ceiling, %s, is what PostgreSQL does for an edit with no "+
		"HTTP, no checks and no importer: %d connections, each looping over the villages of one writer, each edit one "+
		"transaction through `geo.Change` (`set_config` of `battlemap.actor` and `battlemap.scope` to the same county "+
		"user, then `%s`, then the data version read, as the server's edits end), so that row-level security and the "+
		"triggers (the rollups, the audit rows, the data version) run as they do for a PATCH; its transactions are "+
		"counted as empty answers. The ceiling and the server both connect as %s. One server with its default flags "+
		"(tile cache 128 MiB, versions read per tile) runs the rest: the PATCH run alone; then the %d tiles of the Tiles "+
		"section over the Settings' connections after a pass over the whole list (warm); then both at once, the tiles "+
		"and the writers, for the same time. Every edit moves the versions of the counties whose box meets the edited "+
		"village, so beside the writers the cached tiles over those counties are stale as soon as the next edit commits, "+
		"and the others stay warm. Afterwards the villages' `cooperatives` are put back as they "+
		"were found (the audit log keeps the edits). The spread runs, %s and %s, have the same 16 writers edit "+
		"the villages of the other counties instead, as an admin, each writer those of one county (%d counties; "+
		"writers that share one take its villages in turn): writes in different counties take no lock in "+
		"common, so these show what the database does when staff of several counties edit at once, beside one "+
		"county's staff above, whose edits queue for their county's rollups.",
		len(e.original), e.county, editWriters, editWriters, len(e.original)/editWriters,
		(len(e.original)+editWriters-1)/editWriters, e.county, rawUpdateRun, editWriters, sqlSetCooperatives, e.roleNote,
		len(e.tiles), rawSpreadRun, patchSpreadRun, e.otherCounties)
	return &scenario{
		title:    "Edits beside tiles",
		unit:     "requests",
		about:    about,
		requests: e.tiles,
		run:      e.run,
		targets: []target{
			none(patchAloneRun, failed, "errors"),
			none(patchAloneRun, other, "non-2xx answers"),
			noStatus(patchAloneRun, http.StatusPreconditionFailed),
			none(patchBesideRun, failed, "errors"),
			none(patchBesideRun, other, "non-2xx answers"),
			noStatus(patchBesideRun, http.StatusPreconditionFailed),
			none(tilesBesideRun, failed, "errors"),
			none(tilesBesideRun, other, "non-2xx answers"),
			none(patchSpreadRun, failed, "errors"),
			none(patchSpreadRun, other, "non-2xx answers"),
			noStatus(patchSpreadRun, http.StatusPreconditionFailed),
			ratio(patchAloneRun, rawUpdateRun),
			ratio(patchSpreadRun, rawSpreadRun),
			ratio(rawSpreadRun, rawUpdateRun),
			ratio(tilesBesideRun, tilesAloneRun),
		},
	}, nil
}

// newEdits finds the county that has the most villages and deals them
// out to editWriters writers, each owning every editWriters-th village.
// It signs up a county user of that county, with a token valid for an
// hour, which an earlier run on the same database may have made already,
// and picks the role edits connect as.
func newEdits(ctx context.Context, pool *pgxpool.Pool) (*edits, error) {
	tileSc, err := tileScenario(ctx, pool)
	if err != nil {
		return nil, err
	}
	villages, err := geo.CollectionByID("villages")
	if err != nil {
		return nil, err
	}
	e := &edits{tiles: tileSc.requests, items: "/collections/" + villages.ID + "/items/"}
	if err := pool.QueryRow(ctx, sqlBusiestCounty).Scan(&e.county); err != nil {
		return nil, fmt.Errorf("busiest county: %w", err)
	}
	rows, err := pool.Query(ctx, sqlCountyVillages, e.county)
	if err != nil {
		return nil, fmt.Errorf("villages of %s: %w", e.county, err)
	}
	e.original, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (village, error) {
		var v village
		err := row.Scan(&v.code, &v.cooperatives)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("villages of %s: %w", e.county, err)
	}
	if len(e.original) < editWriters {
		return nil, fmt.Errorf("county %s has %d villages, fewer than the %d writers", e.county, len(e.original), editWriters)
	}
	e.owned = make([][]village, editWriters)
	for i, v := range e.original {
		e.owned[i%editWriters] = append(e.owned[i%editWriters], v)
	}
	if err := e.dealOthers(ctx, pool); err != nil {
		return nil, err
	}
	if err := e.signUp(ctx, pool); err != nil {
		return nil, err
	}
	// As the server runs on its private cluster, where row-level security
	// applies; a superuser would bypass it.
	e.role = pool.Config().ConnConfig.User
	e.roleNote = fmt.Sprintf("the URL's role, `%s`: loadbench could not connect as `%s`", e.role, pgcluster.AppRole)
	if connectsAs(ctx, pool, pgcluster.AppRole) {
		e.role = pgcluster.AppRole
		e.roleNote = fmt.Sprintf("`%s`, the role the server runs as on its private cluster, under row-level security", e.role)
	}
	return e, nil
}

// dealOthers reads the villages outside the busiest county and gives each
// writer those of one county, writer i the county i modulo their number;
// writers that share a county take its villages in turn.
func (e *edits) dealOthers(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, sqlOtherVillages, e.county)
	if err != nil {
		return fmt.Errorf("villages of the other counties: %w", err)
	}
	var byCounty [][]village
	var v village
	var county, last string
	_, err = pgx.ForEachRow(rows, []any{&v.code, &v.cooperatives, &county}, func() error {
		if county != last {
			byCounty, last = append(byCounty, nil), county
		}
		byCounty[len(byCounty)-1] = append(byCounty[len(byCounty)-1], v)
		e.others = append(e.others, v)
		return nil
	})
	if err != nil {
		return fmt.Errorf("villages of the other counties: %w", err)
	}
	if len(byCounty) == 0 {
		return errors.New("no village outside the busiest county")
	}
	n := len(byCounty)
	e.otherCounties = n
	e.spread = make([][]village, editWriters)
	for i := range e.spread {
		sharing := (editWriters-1-i%n)/n + 1
		for k := i / n; k < len(byCounty[i%n]); k += sharing {
			e.spread[i] = append(e.spread[i], byCounty[i%n][k])
		}
	}
	return nil
}

// signUp makes the users the writers edit as, a county user of the
// busiest county and an admin, unless an earlier run on the database
// made them, and a token for each. Tokens last an hour, so that one left
// in a database that is not thrown away soon stops working.
func (e *edits) signUp(ctx context.Context, pool *pgxpool.Pool) (err error) {
	county := account.User{Name: "loadbench-" + e.county, Role: account.County, Counties: []string{e.county}}
	admin := account.User{Name: "loadbench-admin", Role: account.Admin}
	if e.actor, e.token, err = signUpOne(ctx, pool, county); err != nil {
		return err
	}
	e.admin, e.adminToken, err = signUpOne(ctx, pool, admin)
	return err
}

// signUpOne makes user u, unless it is there already, and a token for it.
func signUpOne(ctx context.Context, pool *pgxpool.Pool, u account.User) (geo.Actor, string, error) {
	if err := account.Add(ctx, pool, geo.Actor{Name: "loadbench", All: true}, u); err != nil {
		users, lerr := account.List(ctx, pool)
		if lerr != nil || !slices.ContainsFunc(users, func(o account.User) bool {
			return o.Name == u.Name && o.Role == u.Role && o.Disabled == nil && slices.Equal(o.Counties, u.Counties)
		}) {
			return geo.Actor{}, "", fmt.Errorf("bench user: %w", err)
		}
	}
	token, err := account.Create(ctx, pool, u.Name, account.Token, time.Hour)
	if err != nil {
		return geo.Actor{}, "", fmt.Errorf("bench token: %w", err)
	}
	return u.Actor(), token, nil
}

// run measures the raw edits, then starts one server and measures the
// PATCH alone, the tiles alone and both together; it puts the villages
// back as it found them, also after a failed run.
func (e *edits) run(ctx context.Context, cfg config, pc *pgxpool.Config, pg int) (runs []*result, err error) {
	defer e.restoreInto(ctx, pc, &err)
	appPC := pc.Copy()
	appPC.ConnConfig.User = e.role
	appPC.MaxConns = editWriters
	pool, err := pgxpool.NewWithConfig(ctx, appPC)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	raw, err := measure(ctx, cfg, procs{postmaster: pg}, updateLoad(pool, e.actor, e.owned))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: %w", rawUpdateRun, err)
	}
	raw[0].name = rawUpdateRun
	printRun(raw[0], "requests")
	rawSpread, err := measure(ctx, cfg, procs{postmaster: pg}, updateLoad(pool, e.admin, e.spread))
	pool.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawSpreadRun, err)
	}
	rawSpread[0].name = rawSpreadRun
	printRun(rawSpread[0], "requests")

	srv, err := e.startServer(ctx, cfg, pc)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	writers := newHTTPClient(srv.port, editWriters)
	defer writers.close()
	readers := newHTTPClient(srv.port, cfg.connections)
	defer readers.close()
	p := procs{server: srv.pid(), postmaster: pg}
	tiles := requestLoad(readers, e.tiles, cfg.connections, 0)

	alone, err := measure(ctx, cfg, p, e.patchLoad(writers, e.token, e.owned))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", patchAloneRun, err)
	}
	alone[0].name = patchAloneRun
	spread, err := measure(ctx, cfg, p, e.patchLoad(writers, e.adminToken, e.spread))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", patchSpreadRun, err)
	}
	spread[0].name = patchSpreadRun
	if err := warmPass(ctx, readers, e.tiles, cfg.connections); err != nil {
		return nil, err
	}
	tilesAlone, err := measure(ctx, cfg, p, tiles)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tilesAloneRun, err)
	}
	tilesAlone[0].name = tilesAloneRun
	both, err := measure(ctx, cfg, p, tiles, e.patchLoad(writers, e.token, e.owned))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tilesBesideRun, err)
	}
	both[0].name, both[1].name = tilesBesideRun, patchBesideRun
	runs = []*result{raw[0], rawSpread[0], alone[0], spread[0], tilesAlone[0], both[0], both[1]}
	for _, r := range runs[2:] {
		printRun(r, "requests")
	}
	return runs, nil
}

// startServer starts a server with its default flags that connects as
// e's role.
func (e *edits) startServer(ctx context.Context, cfg config, pc *pgxpool.Config) (*server, error) {
	dbURL, err := withUser(cfg.databaseURL, e.role, pc)
	if err != nil {
		return nil, err
	}
	return startServer(ctx, cfg.serverBin, dbURL, nil)
}

// restoreInto restores the villages (see restore) and adds its error to
// *err: a run defers it, so that the villages are put back also after a
// failed run.
func (e *edits) restoreInto(ctx context.Context, pc *pgxpool.Config, err *error) {
	// The runs' context may be over (Ctrl-C): the restore has its own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	*err = errors.Join(*err, e.restore(rctx, pc))
}

// connectsAs reports whether a connection like pool's, as role, can be
// made.
func connectsAs(ctx context.Context, pool *pgxpool.Pool, role string) bool {
	cc := pool.Config().ConnConfig
	cc.User = role
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

// withUser is the connection URL dbURL with role as its user, and no
// password. A URL in key=value form cannot be changed: it is an error,
// unless role is the URL's own.
func withUser(dbURL, role string, pc *pgxpool.Config) (string, error) {
	if role == pc.ConnConfig.User {
		return dbURL, nil
	}
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("the database URL is not a postgres:// URL; cannot make the server connect as %s", role)
	}
	u.User = url.User(role)
	return u.String(), nil
}

// updateLoad is a raw run's workers: one per writer of owned, each
// flipping the lowest bit of its villages' cooperatives in turn, one
// transaction each, as actor. Its workers remember what they set, across
// runs.
func updateLoad(pool *pgxpool.Pool, actor geo.Actor, owned [][]village) workload {
	return func() []worker {
		workers := make([]worker, len(owned))
		for i, vs := range owned {
			next := 0
			workers[i] = func(ctx context.Context) (attempt, bool) {
				v := &vs[next%len(vs)]
				next++
				to := v.cooperatives ^ 1
				t0 := time.Now()
				_, err := geo.Change(ctx, pool, actor, nil, func(tx pgx.Tx) error {
					tag, err := tx.Exec(ctx, sqlSetCooperatives, v.code, to)
					if err == nil && tag.RowsAffected() != 1 {
						// Row-level security hides a row it refuses.
						err = fmt.Errorf("village %s: %d rows updated, want 1", v.code, tag.RowsAffected())
					}
					return err
				})
				lat := time.Since(t0)
				if err != nil {
					return attempt{out: failed, err: err}, true
				}
				v.cooperatives = to
				return attempt{out: empty, latency: lat}, true
			}
		}
		return workers
	}
}

// patchLoad is a PATCH run's workers: one per writer of owned, each
// reading one of its villages and patching it with token, in turn. A
// worker's attempt is the PATCH's; a GET that does not give the village
// and its ETag is an error.
func (e *edits) patchLoad(c *httpClient, token string, owned [][]village) workload {
	return func() []worker {
		workers := make([]worker, len(owned))
		for i, vs := range owned {
			next := 0
			workers[i] = func(ctx context.Context) (attempt, bool) {
				v := vs[next%len(vs)]
				next++
				return e.edit(ctx, c, token, v.code), true
			}
		}
		return workers
	}
}

// edit reads the village code and flips the lowest bit of its
// cooperatives with a PATCH naming the ETag read, sent with token, timing
// the PATCH.
func (e *edits) edit(ctx context.Context, c *httpClient, token, code string) attempt {
	path := c.base + e.items + url.PathEscape(code)
	get, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return attempt{out: failed, err: err}
	}
	get.Header.Set("Accept", "application/geo+json")
	var body bytes.Buffer
	got, _, header, err := c.send(get, &body)
	if got != full {
		return attempt{out: failed, err: fmt.Errorf("GET before PATCH: %w", cmp.Or(err, errors.New("no body")))}
	}
	var f struct {
		Properties struct {
			Cooperatives *int32 `json:"cooperatives"`
		} `json:"properties"`
	}
	etag := header.Get("ETag")
	if err := json.Unmarshal(body.Bytes(), &f); err != nil || f.Properties.Cooperatives == nil || etag == "" {
		return attempt{out: failed, err: fmt.Errorf("GET %s: no ETag or no cooperatives (%v)", get.URL.Path, err)}
	}
	patch := fmt.Appendf(nil, `{"properties":{"cooperatives":%d}}`, *f.Properties.Cooperatives^1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, path, bytes.NewReader(patch))
	if err != nil {
		return attempt{out: failed, err: err}
	}
	req.Header.Set("Content-Type", "application/merge-patch+json")
	req.Header.Set("If-Match", etag)
	req.Header.Set("Authorization", "Bearer "+token)
	t0 := time.Now()
	out, n, _, err := c.send(req, io.Discard)
	return attempt{out: out, n: n, latency: time.Since(t0), err: err}
}

// restore puts back the cooperatives of the villages as the scenario
// found them, as its admin, on a connection like pc's.
func (e *edits) restore(ctx context.Context, pc *pgxpool.Config) error {
	conn, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
	if err != nil {
		return fmt.Errorf("restore villages: %w", err)
	}
	defer conn.Close(ctx)
	var codes []string
	var values []int32
	for _, v := range slices.Concat(e.original, e.others) {
		codes, values = append(codes, v.code), append(values, v.cooperatives)
	}
	_, err = geo.Change(ctx, conn, e.admin, nil, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sqlRestoreCooperatives, codes, values)
		return err
	})
	if err != nil {
		return fmt.Errorf("restore villages: %w", err)
	}
	return nil
}
