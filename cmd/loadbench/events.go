package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/tiles"
)

// The events scenario's sizes, as issue 13 asks: 100 open streams and
// 200 tiles/s of background load; 40 changes, one every 500 ms, make
// 4,000 commit → event samples.
const (
	eventStreams  = 100
	eventChanges  = 40
	eventEvery    = 500 * time.Millisecond
	backgroundTPS = 200
	// eventTail is how long the background load and the streams go on
	// after the last change, for its event and tile to arrive.
	eventTail = 2 * time.Second
	// eventWait bounds how long a tile is polled for: past it, the change
	// never reached the tile.
	eventWait = 10 * time.Second
	// tilePollEvery is how often the tile client asks again.
	tilePollEvery = 20 * time.Millisecond
	// eventTileZoom is the zoom of the polled tiles: a few villages to a
	// tile, as a screen following one township shows them.
	eventTileZoom = 12
	// warmWindow is each of the two runs of warm tiles around one edit.
	warmWindow = 5 * time.Second
	// notifyChannel is where every change is announced at commit
	// (migrations/006_events.sql), which the server's streams listen to.
	notifyChannel = "battlemap_changes"
)

// sqlVillagePoint is a village's point, for the tile that holds it.
const sqlVillagePoint = `SELECT ST_X(point), ST_Y(point) FROM regions WHERE code = $1`

// Names of the events scenario's runs.
const (
	warmBeforeRun = "warm tiles, 5 s before an edit"
	warmAfterRun  = "warm tiles, 5 s right after an edit"
	listenRun     = "raw LISTEN: commit → NOTIFY (no HTTP)"
	streamsRun    = "GET /api/events, 100 streams opened"
	eventRun      = "commit → event, at each of 100 streams"
	tileRun       = "commit → new tile bytes, one poller"
	patchRun      = "PATCH, one every 500 ms"
	backgroundRun = "background tiles, paced at 200/s"
)

// eventVillage is one change of the scenario: the village patched and
// the z12 tile of the villages layer that holds it.
type eventVillage struct {
	code string
	tile string // path
}

// change is when one PATCH was sent and when its 200 came back: the
// commit happened between the two, so latencies are counted from the
// answer, the latest the commit can have been.
type change struct {
	feature      string
	sent, answer time.Time
}

// eventRuns is what the events scenario's run shares: the edits' setup
// (county, user, role, tiles list) and the villages it changes.
type eventRuns struct {
	*edits
	villages []eventVillage
	warmEdit string // the village the edit between the warm runs patches
}

// eventsScenario measures how soon a change reaches the screens that
// follow it: with eventStreams streams open on GET /api/events and
// backgroundTPS tiles a second of the tiles list asked for, one writer
// patches eventChanges villages of the edits scenario's county, one every
// eventEvery, and each change is timed from the PATCH's answer to its
// event at every stream, to new bytes of a tile that holds the village,
// and to a plain LISTEN's notification. Before that, warm tiles are
// loaded flat out for warmWindow, then once more right after one edit.
func eventsScenario(ctx context.Context, pool *pgxpool.Pool) (*scenario, error) {
	e, err := newEdits(ctx, pool)
	if err != nil {
		return nil, err
	}
	if _, ok := tiles.Tilesets()["villages"]; !ok {
		return nil, errors.New(`no "villages" tileset`)
	}
	if len(e.original) < eventChanges+1 {
		return nil, fmt.Errorf("county %s has %d villages, fewer than the %d changes and the warm runs' edit", e.county, len(e.original), eventChanges+1)
	}
	r := &eventRuns{edits: e, warmEdit: e.original[0].code}
	// The middle village of each of eventChanges equal stretches of the
	// county's, so that the changes are spread over its tiles; the first
	// village, the warm runs' edit, is in none.
	n := len(e.original) - 1
	for i := range eventChanges {
		code := e.original[1+(2*i+1)*n/(2*eventChanges)].code
		var lon, lat float64
		if err := pool.QueryRow(ctx, sqlVillagePoint, code).Scan(&lon, &lat); err != nil {
			return nil, fmt.Errorf("point of village %s: %w", code, err)
		}
		t := maptile.At(orb.Point{lon, lat}, eventTileZoom)
		r.villages = append(r.villages, eventVillage{code: code, tile: tilePath("villages", t)})
	}

	about := fmt.Sprintf("How soon a committed change reaches the screens that follow it (issue 13). One server with its "+
		"default flags (versions read per tile, at most 256 event streams), connecting as %s. First, warm tiles: after a "+
		"pass over the %d tiles of the Tiles section, they are loaded flat out over the Settings' connections for %s "+
		"(%s); then one PATCH of village %s of county %s; then the same load again for %s (%s). Tiles are stamped with the "+
		"versions of the counties whose box they meet, and an edit moves only the counties whose box meets what it drew, "+
		"so right after the edit only the tiles over those counties are drawn again; the others stay warm.\n\n"+
		"Then %d streams are opened on `GET /api/events` (plain HTTP/1.1 connections, read line by line), and the "+
		"tiles of the list are asked for at %d a second, paced, not flat out, over the Settings' connections, for the "+
		"whole run (%s). Beside them one writer makes %d changes, one every %s: each `PATCH /collections/villages/items/{code}` "+
		"of a different village of county %s, as the Edits section's writers do (GET for the ETag, then PATCH with "+
		"`If-Match`, flipping the lowest bit of `cooperatives`, as a county user of %s; %s). A change's commit time is "+
		"taken just after the PATCH's 200 arrives: the commit happened before the answer was sent, so every latency "+
		"below is short by the time from commit to answer, and an event can even arrive before the answer (a "+
		"sample below 0). From each commit: the event of that village at each stream (%s: one sample per stream and "+
		"change, %d in all; events are matched to changes by `feature`, in order, and one a stream did not get within "+
		"%s of the last change counts as an error); new bytes of the z%d tile of the `villages` tileset holding the "+
		"village (%s: before the PATCH the tile's ETag is read, after it one client asks for the tile every %s until the "+
		"ETag differs, at most %s; a sample is the time the first different answer arrived); and the database's own floor, "+
		"%s: one plain pgx connection that LISTENs on `%s`, where every change is announced at commit and which the "+
		"server's streams follow, with no HTTP and no read of the change log (the first notification after the PATCH was "+
		"sent is its change's). The PATCH and background rows are the loads themselves; %s times "+
		"each stream's request to its header, and counts as an error a stream that ended before the run did. In the table "+
		"a sample is a tile answered in the tile rows, a PATCH answered in the PATCH row, a stream in the streams row and a "+
		"change received in the latency rows, whose samples/s mean little; the runs of the changes share their CPU figures. Afterwards the villages' "+
		"`cooperatives` are put back as they were found.",
		e.roleNote, len(e.tiles), warmWindow, warmBeforeRun, r.warmEdit, e.county, warmWindow, warmAfterRun,
		eventStreams, backgroundTPS, backgroundRun, eventChanges, eventEvery, e.county, e.county, patchRun,
		eventRun, eventStreams*eventChanges, eventTail, eventTileZoom, tileRun, tilePollEvery, eventWait,
		listenRun, notifyChannel, streamsRun)
	return &scenario{
		title:    "Events: commit to screen",
		unit:     "samples",
		about:    about,
		requests: e.tiles,
		run:      r.run,
		timing: fmt.Sprintf("warm runs %s each, no warm-up after the warming pass; %d changes %s apart, loads for %s",
			warmWindow, eventChanges, eventEvery, eventChanges*eventEvery+eventTail),
		targets: []target{
			maxP99(eventRun, 500*time.Millisecond),
			maxP99(tileRun, 500*time.Millisecond),
			none(eventRun, failed, "changes missed by a stream"),
			none(streamsRun, failed, "streams that ended before the run did"),
			none(tileRun, failed, "tiles that did not change"),
			none(patchRun, failed, "errors"),
			none(patchRun, other, "non-2xx answers"),
			none(backgroundRun, failed, "errors"),
			none(backgroundRun, other, "non-2xx answers"),
			ratio(warmAfterRun, warmBeforeRun),
		},
	}, nil
}

// run measures the warm tiles around one edit, then the changes, on one
// server; it puts the villages back as it found them, also after a
// failed run.
func (r *eventRuns) run(ctx context.Context, cfg config, pc *pgxpool.Config, pg int) (runs []*result, err error) {
	defer r.restoreInto(ctx, pc, &err)
	srv, err := r.startServer(ctx, cfg, pc)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	writer := newHTTPClient(srv.port, 1)
	defer writer.close()
	readers := newHTTPClient(srv.port, cfg.connections)
	defer readers.close()
	p := procs{server: srv.pid(), postmaster: pg}

	// Runs of their own length, with no warm-up: the pass warms the cache,
	// and a warm-up after the edit would hide what the edit did to it.
	warmCfg := cfg
	warmCfg.duration, warmCfg.warmup = warmWindow, 0
	if err := warmPass(ctx, readers, r.tiles, cfg.connections); err != nil {
		return nil, err
	}
	before, err := measure(ctx, warmCfg, p, requestLoad(readers, r.tiles, cfg.connections, 0))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", warmBeforeRun, err)
	}
	before[0].name = warmBeforeRun
	if a := r.edit(ctx, writer, r.token, r.warmEdit); a.out != full {
		return nil, fmt.Errorf("the edit between the warm runs: %v", a.err)
	}
	after, err := measure(ctx, warmCfg, p, requestLoad(readers, r.tiles, cfg.connections, 0))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", warmAfterRun, err)
	}
	after[0].name = warmAfterRun
	runs = []*result{before[0], after[0]}
	for _, res := range runs {
		printRun(res, "tiles")
	}

	changed, err := r.changes(ctx, cfg, pc, srv.port, p, readers, writer)
	if err != nil {
		return nil, err
	}
	runs = append(runs, changed...)
	for _, res := range changed {
		printRun(res, "samples")
	}
	return runs, nil
}

// changes opens the streams and the LISTEN, makes the changes beside the
// background tiles, and returns the latency runs (the streams' with the
// time each took to open, a failure for each that ended before the
// end), then the loads' runs.
func (r *eventRuns) changes(ctx context.Context, cfg config, pc *pgxpool.Config, port int, p procs, readers, writer *httpClient) ([]*result, error) {
	listen, err := listenNotify(ctx, pc)
	if err != nil {
		return nil, err
	}
	defer listen.stop()
	streams, err := openStreams(ctx, port, eventStreams)
	if err != nil {
		return nil, err
	}
	defer streams.stop()
	// Connections for the polls of two changes at once and the next
	// change's ETag: a tile slower than a change must not queue them.
	poller := newHTTPClient(port, 4)
	defer poller.close()

	var (
		mu      sync.Mutex
		made    []change
		polls   sync.WaitGroup
		tileLat []time.Duration // of the changes made, in the order polls end
		tileErr []error
	)
	// One worker: at each change's time, the tile's ETag, then the PATCH,
	// then a poller of the tile of its own, so that a slow tile does not
	// hold up the next change.
	editor := func() []worker {
		var next atomic.Int64
		start := time.Now()
		return []worker{func(ctx context.Context) (attempt, bool) {
			i := int(next.Add(1) - 1)
			if i >= eventChanges {
				return attempt{}, false
			}
			if !sleepUntil(ctx, start.Add(time.Duration(i+1)*eventEvery)) {
				return attempt{out: failed, err: ctx.Err()}, true
			}
			v := r.villages[i]
			etag, err := tileETag(ctx, poller, v.tile)
			if err != nil {
				return attempt{out: failed, err: fmt.Errorf("tile before the change: %w", err)}, true
			}
			a := r.edit(ctx, writer, r.token, v.code)
			answered := time.Now()
			if a.out != full {
				return a, true
			}
			mu.Lock()
			made = append(made, change{feature: v.code, sent: answered.Add(-a.latency), answer: answered})
			mu.Unlock()
			polls.Go(func() {
				lat, err := pollTile(ctx, poller, v.tile, etag, answered)
				mu.Lock()
				defer mu.Unlock()
				tileLat, tileErr = append(tileLat, lat), append(tileErr, err)
			})
			return a, true
		}}
	}
	runCfg := cfg
	runCfg.duration, runCfg.warmup = eventChanges*eventEvery+eventTail, 0
	loads, err := measure(ctx, runCfg, p, paced(requestLoad(readers, r.tiles, cfg.connections, 0), backgroundTPS), editor)
	if err != nil {
		return nil, err
	}
	polls.Wait()
	got, ended := streams.stop()
	notified := listen.stop()
	background, patches := loads[0], loads[1]
	background.name, patches.name = backgroundRun, patchRun

	// A stream that ended early is a failure even when it had every
	// change by then: a screen would have had to reconnect.
	endedEarly := make([]error, len(ended))
	for i, err := range ended {
		if err != nil {
			endedEarly[i] = fmt.Errorf("stream %d ended after %d events: %w", i+1, len(got[i]), err)
		}
	}
	opened := samples(streamsRun, streams.opened, endedEarly, background)

	tile := samples(tileRun, tileLat, tileErr, background)
	var eventLat []time.Duration
	var eventErr []error
	for i := range got {
		lat, errs := matchEvents(made, got[i], ended[i])
		for j, err := range errs {
			if err != nil {
				errs[j] = fmt.Errorf("stream %d: %w", i+1, err)
			}
		}
		eventLat, eventErr = append(eventLat, lat...), append(eventErr, errs...)
	}
	events := samples(eventRun, eventLat, eventErr, background)
	notifyLat, notifyErr := matchNotifications(made, notified)
	floor := samples(listenRun, notifyLat, notifyErr, background)
	return []*result{floor, opened, events, tile, patches, background}, nil
}

// samples makes a run of latency samples: one per latency, or, where
// errs has an error at the same index, a failure. Its elapsed time and
// CPU figures are those of the run it was measured beside.
func samples(name string, lat []time.Duration, errs []error, beside *result) *result {
	res := &result{name: name, elapsed: beside.elapsed, cpu: beside.cpu, rssMax: beside.rssMax, hwm: beside.hwm, shared: true}
	for i, l := range lat {
		if errs[i] != nil {
			res.counts[failed]++
			res.firstErr = cmp.Or(res.firstErr, errs[i])
			continue
		}
		res.counts[full]++
		res.latencies = append(res.latencies, l)
	}
	slices.Sort(res.latencies)
	return res
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// paced is load slowed to rate requests a second in all, evenly spaced
// from the first: each request waits for a slot, and a worker takes the
// next free one. A slot that every worker was too busy to take when due
// is taken late, not skipped, so a slow server gets the same requests,
// bunched.
func paced(load workload, rate float64) workload {
	return func() []worker {
		workers := load()
		var (
			next  atomic.Int64
			once  sync.Once
			start time.Time
		)
		for i, w := range workers {
			workers[i] = func(ctx context.Context) (attempt, bool) {
				once.Do(func() { start = time.Now() })
				slot := next.Add(1) - 1
				if !sleepUntil(ctx, start.Add(time.Duration(float64(slot)/rate*float64(time.Second)))) {
					return attempt{out: failed, err: ctx.Err()}, true
				}
				return w(ctx)
			}
		}
		return workers
	}
}

// tileETag is the ETag of the tile at path as c gets it now.
func tileETag(ctx context.Context, c *httpClient, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return "", err
	}
	out, _, header, err := c.send(req, io.Discard)
	switch {
	case out != full:
		return "", fmt.Errorf("GET %s: %v", path, err)
	case header.Get("ETag") == "":
		return "", fmt.Errorf("GET %s: no ETag", path)
	}
	return header.Get("ETag"), nil
}

// pollTile asks c for the tile at path every tilePollEvery until its
// ETag is no longer was, and returns the time from commit to the answer
// that differed; an error when none did within eventWait.
func pollTile(ctx context.Context, c *httpClient, path, was string, commit time.Time) (time.Duration, error) {
	for time.Since(commit) < eventWait {
		etag, err := tileETag(ctx, c, path)
		if err != nil {
			return 0, err
		}
		if etag != was {
			return time.Since(commit), nil
		}
		if !sleepUntil(ctx, time.Now().Add(tilePollEvery)) {
			return 0, ctx.Err()
		}
	}
	return 0, fmt.Errorf("%s: the same ETag %s %s after the change", path, was, eventWait)
}

// received is one event of a stream: its feature and when it arrived.
type received struct {
	feature string
	at      time.Time
}

// streamSet is the open event streams and what each has received.
type streamSet struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	opened []time.Duration // from sending each stream's request to its header
	got    [][]received
	ended  []error // why a stream ended before it was stopped
}

// openStreams opens n streams on GET /api/events of the server on port
// and reads each in a goroutine of its own. Each stream has its own
// connection, as each screen has.
func openStreams(ctx context.Context, port, n int) (*streamSet, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &streamSet{cancel: cancel, got: make([][]received, n), ended: make([]error, n)}
	// No timeout: a stream is open for the whole run.
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}}
	url := fmt.Sprintf("http://127.0.0.1:%d/api/events", port)
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			s.stop()
			return nil, err
		}
		t0 := time.Now()
		resp, err := hc.Do(req)
		s.opened = append(s.opened, time.Since(t0))
		if err != nil {
			s.stop()
			return nil, fmt.Errorf("stream %d: %w", i, err)
		}
		if resp.StatusCode != http.StatusOK {
			head, _ := io.ReadAll(io.LimitReader(resp.Body, statusBodyBytes))
			resp.Body.Close()
			s.stop()
			return nil, fmt.Errorf("stream %d: HTTP %d: %s", i, resp.StatusCode, head)
		}
		s.wg.Go(func() {
			defer resp.Body.Close()
			s.got[i], s.ended[i] = readStream(resp.Body)
			if ctx.Err() != nil {
				s.ended[i] = nil // stopped, not ended
			}
		})
	}
	return s, nil
}

// stop closes the streams, if still open, and returns what each
// received and why it ended before, if it did.
func (s *streamSet) stop() ([][]received, []error) {
	s.cancel()
	s.wg.Wait()
	return s.got, s.ended
}

// readStream reads the change events of one stream until it ends, with
// when each arrived, and returns why it ended.
func readStream(body io.Reader) ([]received, error) {
	var got []received
	var data struct {
		Feature string `json:"feature"`
	}
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue // ids, event names, heartbeats, blank lines
		}
		at := time.Now()
		if err := json.Unmarshal([]byte(line), &data); err != nil {
			return got, fmt.Errorf("event data %q: %w", line, err)
		}
		got = append(got, received{feature: data.Feature, at: at})
	}
	return got, cmp.Or(sc.Err(), errors.New("the server ended the stream"))
}

// matchEvents finds each change, in order, among the events of one
// stream, by feature, and returns the latency of each from its commit,
// or an error for one the stream did not get, with why the stream ended
// when it ended by itself (ended). An id gap is no miss, and
// events of other features are skipped.
func matchEvents(made []change, got []received, ended error) ([]time.Duration, []error) {
	lat := make([]time.Duration, len(made))
	errs := make([]error, len(made))
	j := 0
	for i, c := range made {
		k := slices.IndexFunc(got[j:], func(e received) bool { return e.feature == c.feature })
		if k < 0 {
			errs[i] = fmt.Errorf("no event for the change of village %s (change %d of %d)", c.feature, i+1, len(made))
			if ended != nil {
				errs[i] = fmt.Errorf("%w: the stream ended after %d events: %w", errs[i], len(got), ended)
			}
			continue
		}
		j += k
		lat[i] = got[j].at.Sub(c.answer)
		j++
	}
	return lat, errs
}

// notifyListener is one plain connection LISTENing on notifyChannel.
type notifyListener struct {
	conn   *pgx.Conn
	cancel context.CancelFunc
	done   chan struct{}
	at     []time.Time // when each notification arrived
}

// listenNotify LISTENs on notifyChannel on a connection like pc's and
// notes when each notification arrives, until stopped.
func listenNotify(ctx context.Context, pc *pgxpool.Config) (*notifyListener, error) {
	conn, err := pgx.ConnectConfig(ctx, pc.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("listen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &notifyListener{conn: conn, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return
			}
			l.at = append(l.at, time.Now())
		}
	}()
	return l, nil
}

// stop stops listening, if it still does, and returns when each
// notification arrived.
func (l *notifyListener) stop() []time.Time {
	l.cancel()
	<-l.done
	l.conn.Close(context.Background())
	return l.at
}

// matchNotifications takes as each change's notification the first that
// arrived after its PATCH was sent and before the next one was, and
// returns the latency of each from its commit, or an error for a change
// that had none.
func matchNotifications(made []change, at []time.Time) ([]time.Duration, []error) {
	lat := make([]time.Duration, len(made))
	errs := make([]error, len(made))
	j := 0
	for i, c := range made {
		for j < len(at) && at[j].Before(c.sent) {
			j++
		}
		if j == len(at) || (i+1 < len(made) && !at[j].Before(made[i+1].sent)) {
			errs[i] = fmt.Errorf("no notification for the change of village %s", c.feature)
			continue
		}
		lat[i] = at[j].Sub(c.answer)
		j++
	}
	return lat, errs
}
