package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
)

// request is one thing a client asks for, in its forms: the HTTP path
// the server answers, its raw-SQL twin, and the ceiling when that is not
// the twin.
type request struct {
	path   string // absolute path and query, e.g. /tiles/battlemap/8/203/106.mvt
	accept string // the Accept header of the HTTP request, "" for none
	// twin is nil only in the lists of scenarios with no SQL runs.
	twin twin
	// ceiling is the least PostGIS alone does to make the same answer,
	// where the server's statements do more; nil where the twin is the
	// ceiling.
	ceiling twin
}

// twin runs on pool the SQL the server runs for a request, one statement
// or a batch of them, the same statements with the same arguments, reads
// every row (see readRaw) and returns the size of the body: 0 for an
// empty answer.
type twin func(ctx context.Context, pool *pgxpool.Pool) (int, error)

// serverRun is one load run against a battlemap server started with
// flags. A warm run first asks for every request once, so that what the
// server caches is in its cache before the clock starts. A cold run has
// not even the unmeasured warm-up (-warmup): the clock starts with the
// first request to a fresh server, so the run measures its caches
// filling under load, which a warm-up of a few seconds would have done
// out of sight.
type serverRun struct {
	name  string
	flags []string
	warm  bool
	cold  bool
}

// target is one figure a scenario promises, checked against the runs
// of the same invocation (keyed by run name). A target whose want is ""
// promises nothing: it puts a figure no issue has set a target for
// beside the others, and met means nothing.
type target struct {
	name  string
	want  string
	check func(runs map[string]*result) (got string, met bool)
}

// scenario is what one `-scenario` value measures: a fixed list of
// requests with their raw-SQL twins, the server runs to load, and the
// targets. Unless the scenario is serverOnly, the twins are run first,
// under ceilingRun, then the requests' ceilings, if they have them,
// under the name ceiling.
type scenario struct {
	title    string // heading of its section in the markdown file
	unit     string // what one request fetches, plural: "tiles"
	about    string // markdown: what the list holds and how it was chosen
	requests []request
	ceiling  string // the name of the run of the requests' ceilings; "" when the twins are
	// serverOnly skips the SQL runs: the scenario is about the server, and
	// its requests' SQL is measured by other scenarios.
	serverOnly bool
	// connections, when not 0, is the scenario's concurrency in place of
	// -connections: a scenario about many clients sets its own.
	connections int
	servers     []serverRun
	targets     []target
	// run, when set, measures the scenario in place of the twins and the
	// server runs, and prints each run as it ends: for a scenario whose
	// load is more than a list of GETs. pc is the pool configuration of
	// the database, pg PostgreSQL's postmaster, for the CPU figures.
	run func(ctx context.Context, cfg config, pc *pgxpool.Config, pg int) ([]*result, error)
	// timing, when set, says how run times its runs, for the Settings
	// line, in place of -duration and -warmup, which that run does not use.
	timing string
	// detail, when run sets it, is markdown written after the runs'
	// table: figures of a shape the table has no columns for.
	detail string
	// close, when set, releases what the scenario holds (a pool of its
	// own) once it is measured.
	close func()
	// session is what the server's connections for these requests add to
	// geo.SessionParams (tiles.SessionParams for tiles); the ceiling's
	// connections get the same.
	session map[string]string
}

// Names of the runs of raw SQL, with no HTTP: ceilingRun runs the twins,
// the server's own statements, which for tiles are the ceiling;
// featureCollectionRun runs GeoJSON pages as one FeatureCollection each,
// the ceiling of items.
const (
	ceilingRun           = "raw PostGIS (no HTTP)"
	featureCollectionRun = "raw FeatureCollection (no HTTP)"
)

// scenarios builds each scenario by its -scenario name, on a database
// that holds the map data (a list may depend on where the data lies).
var scenarios = map[string]func(ctx context.Context, pool *pgxpool.Pool) (*scenario, error){
	"tiles":     tileScenario,
	"pasttiles": pastTileScenario,
	"geojson":   geoJSONScenario,
	"mixed":     mixedScenario,
	"edits":     editsScenario,
	"events":    eventsScenario,
	"national":  nationalScenario,
}

// zunyi is the area the lists cover: the city's extent, rounded out.
var zunyi = orb.Bound{Min: orb.Point{105.6, 27.1}, Max: orb.Point{108.3, 29.3}}

// sampleKey is a fixed pseudo-random number for the sample called name:
// the first 8 bytes of the SHA-256 of name. It picks samples and orders
// lists, so both are the same on every machine and every run.
func sampleKey(name string) uint64 {
	sum := sha256.Sum256([]byte(name))
	return binary.BigEndian.Uint64(sum[:8])
}

// Target helpers shared by scenarios. Each names the runs it reads. A
// figure from a run where requests failed is not a figure: such a target
// is not met, and says why.

// clean returns the run called name if it had no failed requests, else
// nil and why not.
func clean(runs map[string]*result, name string) (*result, string) {
	r := runs[name]
	switch {
	case r == nil:
		return nil, "no run"
	case r.counts[failed] > 0:
		return nil, fmt.Sprintf("%s had %s errors", name, count(r.counts[failed]))
	}
	return r, ""
}

// shareFigure is run's throughput as a share of base's, and how a target
// shows it; false, and why, when either run is no figure.
func shareFigure(runs map[string]*result, run, base string) (float64, string, bool) {
	r, why := clean(runs, run)
	if r == nil {
		return 0, why, false
	}
	b, why := clean(runs, base)
	switch {
	case b == nil:
		return 0, why, false
	case b.rate() == 0:
		return 0, base + " answered nothing", false
	}
	got := r.rate() / b.rate()
	return got, fmt.Sprintf("%.0f%% (%s ÷ %s /s)", got*100, perSecond(r.rate()), perSecond(b.rate())), true
}

// shareOf wants run's throughput to be at least share of ceiling's.
func shareOf(run, ceiling string, share float64) target {
	return target{
		name: run + " throughput ÷ " + ceiling,
		want: fmt.Sprintf("≥ %.0f%%", share*100),
		check: func(runs map[string]*result) (string, bool) {
			got, text, ok := shareFigure(runs, run, ceiling)
			return text, ok && got >= share
		},
	}
}

// minRate wants run to answer at least rate requests a second.
func minRate(run, unit string, rate float64) target {
	return target{
		name: run + " throughput",
		want: "≥ " + thousands(rate) + " " + unit + "/s",
		check: func(runs map[string]*result) (string, bool) {
			r, why := clean(runs, run)
			if r == nil {
				return why, false
			}
			return perSecond(r.rate()) + " " + unit + "/s", r.rate() >= rate
		},
	}
}

// maxP99 wants run's 99th-percentile latency under limit.
func maxP99(run string, limit time.Duration) target {
	return target{
		name: run + " p99 latency",
		want: "< " + limit.String(),
		check: func(runs map[string]*result) (string, bool) {
			r, why := clean(runs, run)
			if r == nil {
				return why, false
			}
			p99 := r.percentile(0.99)
			return ms(p99), p99 < limit
		},
	}
}

// maxServerCPU wants the server of run to spend less than limit of CPU
// time (user and system) per request answered.
func maxServerCPU(run string, limit time.Duration) target {
	return target{
		name: run + " server CPU per request",
		want: "< " + cpuMS(limit),
		check: func(runs map[string]*result) (string, bool) {
			r, why := clean(runs, run)
			if r == nil {
				return why, false
			}
			perRequest := r.cpuPerRequest().server
			return cpuMS(perRequest), perRequest < limit
		},
	}
}

// none wants no request of run to have ended as out; what names them:
// "errors", "non-2xx answers". Unlike the figures, a count is read from
// a run that had failures too: it is the point. Other answers are told
// by status, so that the row says which ones came back.
func none(run string, out outcome, what string) target {
	return target{
		name: run + " " + what,
		want: "0",
		check: func(runs map[string]*result) (string, bool) {
			r := runs[run]
			if r == nil {
				return "no run", false
			}
			got := count(r.counts[out])
			if out == other {
				got = otherStatuses(r)
			}
			return got, r.counts[out] == 0
		},
	}
}

// noStatus wants no answer of run to have had status.
func noStatus(run string, status int) target {
	return target{
		name: fmt.Sprintf("%s answered %d %s", run, status, http.StatusText(status)),
		want: "0",
		check: func(runs map[string]*result) (string, bool) {
			r := runs[run]
			if r == nil {
				return "no run", false
			}
			return count(r.statuses[status]), r.statuses[status] == 0
		},
	}
}

// ratio is no target: it is run's throughput as a share of base's, a
// figure to read beside the others.
func ratio(run, base string) target {
	return target{
		name: run + " throughput ÷ " + base,
		check: func(runs map[string]*result) (string, bool) {
			_, text, ok := shareFigure(runs, run, base)
			return text, ok
		},
	}
}

// maxRSS wants every server run's peak resident memory under limit
// bytes.
func maxRSS(limit int64) target {
	return target{
		name: "server peak RSS under load",
		want: "< " + mib(limit),
		check: func(runs map[string]*result) (string, bool) {
			peak := peakRSS(runs, func(string) bool { return true })
			if peak == 0 {
				return "no run", false
			}
			return mib(peak), peak < limit
		},
	}
}

// peakRSS is the greatest peak resident memory of the server runs whose
// name keep keeps; 0 when there is none.
func peakRSS(runs map[string]*result, keep func(name string) bool) int64 {
	var peak int64
	for name, r := range runs {
		if keep(name) {
			peak = max(peak, r.hwm, r.rssMax)
		}
	}
	return peak
}
