// Command loadbench measures battlemap under load on loopback, for
// `make bench`. A scenario is a fixed list of requests, each with a
// raw-SQL twin: the statements the server runs for it. For each scenario
// asked for, in turn, loadbench runs the twins straight on PostGIS with
// no HTTP (the ceiling; the mixed scenario, about the server under many
// clients, has no such run), then starts `battlemap serve` subprocesses
// on 127.0.0.1 and loads them with the same list over keep-alive
// connections. The edits scenario is the exception: its ceiling is edits
// as raw UPDATE transactions, then its writers PATCH a server, alone and
// beside the tiles list. The events scenario is about latency: how soon
// a PATCH reaches event streams and tiles, beside a paced load of tiles,
// with the database's own LISTEN as its ceiling. It prints the figures and writes them, with the
// scenario's targets, into the scenario's own section of a markdown
// file, leaving the file's other sections as they were.
//
// The national scenario, which `make bench-national` runs and the
// default list leaves out (its import alone takes minutes), is about a
// country's data rather than a city's: the time `battlemap import` takes
// to load the national data set (`make nationaldata`) into a fresh
// database, then tiles per zoom, cold and warm, search and a page of
// items over a dense box, one request at a time, on that database and,
// beside them, on the demo database of -database-url, with the same
// list shape (see national.go).
//
// Usage:
//
//	loadbench [-scenario tiles,geojson,mixed,edits,events] [-connections 16] [-duration 20s] [-warmup 3s]
//	          [-server-bin bin/battlemap] [-database-url URL] [-out BENCHMARKS.md]
//	loadbench -scenario national (-national-data DIR | -national-database-url URL) [-server-bin bin/battlemap]
//	          [-database-url URL] [-out BENCHMARKS.md]
//
// The database (default: $DATABASE_URL) is migrated and, when it has no
// map data, loaded with the demo data first. Every run is bounded in
// time and every server is stopped on exit, also on error or Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// config is loadbench's flags.
type config struct {
	scenarios   []string // names, in the order they run
	databaseURL string
	serverBin   string
	connections int
	duration    time.Duration
	warmup      time.Duration
	out         string
	// The national scenario's database: nationalData, a directory the
	// data set is imported from into a new database, or nationalURL, a
	// database that holds it already.
	nationalData string
	nationalURL  string
}

// run benchmarks and returns the exit status: 0 when every run was
// measured and written (targets not met included: the figures are the
// result), 2 for bad flags, 1 for a failure or requests that errored.
func run(ctx context.Context, args []string) int {
	cfg, command, err := parseFlags(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadbench: %v\n", err)
		return 2
	}
	errored, err := bench(ctx, cfg, command)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadbench: %v\n", err)
		return 1
	}
	if errored {
		fmt.Fprintln(os.Stderr, "loadbench: some requests failed; see the errors column")
		return 1
	}
	return 0
}

// parseFlags reads args into a config and returns with it the command
// line to record, which names the explicitly set flags, the database URL
// only as $DATABASE_URL: it may hold a password.
func parseFlags(args []string) (config, string, error) {
	var cfg config
	var list string
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.StringVar(&list, "scenario", "tiles,pasttiles,geojson,mixed,edits,events", "what to measure, comma-separated, in order; there are: "+strings.Join(scenarioNames(), ", "))
	fs.StringVar(&cfg.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostGIS database (default $DATABASE_URL)")
	fs.StringVar(&cfg.serverBin, "server-bin", "bin/battlemap", "battlemap binary to serve with")
	fs.IntVar(&cfg.connections, "connections", 16, fmt.Sprintf("concurrent connections, HTTP and SQL alike, of the scenarios that do not set their own (mixed: %d; edits: its tiles, beside %d writers)", mixedConnections, editWriters))
	fs.DurationVar(&cfg.duration, "duration", 20*time.Second, "measured time of each run")
	fs.DurationVar(&cfg.warmup, "warmup", 3*time.Second, "unmeasured load before each run")
	fs.StringVar(&cfg.out, "out", "BENCHMARKS.md", "markdown file whose scenario section is written")
	fs.StringVar(&cfg.nationalData, "national-data", "", "national scenario: the national data set's directory (regions.geojson, villages.csv, from make nationaldata), imported, timed, into a new database named after -database-url's with "+nationalSuffix)
	fs.StringVar(&cfg.nationalURL, "national-database-url", "", "national scenario: a database that holds the national data already, measured as it is (no import time)")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	for name := range strings.SplitSeq(list, ",") {
		switch {
		case scenarios[name] == nil:
			return cfg, "", fmt.Errorf("no scenario %q; there are: %s", name, strings.Join(scenarioNames(), ", "))
		case slices.Contains(cfg.scenarios, name):
			return cfg, "", fmt.Errorf("scenario %s is asked for twice", name)
		}
		cfg.scenarios = append(cfg.scenarios, name)
	}
	switch {
	case fs.NArg() > 0:
		return cfg, "", fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.databaseURL == "":
		return cfg, "", errors.New("no database: set DATABASE_URL or -database-url (make bench runs loadbench inside battlemap exec)")
	case cfg.connections < 1:
		return cfg, "", fmt.Errorf("-connections %d: want at least 1", cfg.connections)
	case cfg.duration <= 0 || cfg.warmup < 0:
		return cfg, "", errors.New("-duration must be positive and -warmup not negative")
	}
	national := cfg.nationalData != "" || cfg.nationalURL != ""
	switch {
	case slices.Contains(cfg.scenarios, "national") && !national:
		return cfg, "", errors.New("the national scenario needs -national-data DIR (make nationaldata's output) or -national-database-url URL")
	case cfg.nationalData != "" && cfg.nationalURL != "":
		return cfg, "", errors.New("-national-data and -national-database-url: give one")
	case national && !slices.Contains(cfg.scenarios, "national"):
		return cfg, "", errors.New("-national-data and -national-database-url are for -scenario national")
	case cfg.nationalURL == cfg.databaseURL:
		return cfg, "", errors.New("-national-database-url is the database of -database-url, whose demo data the national figures are set beside: give each its own")
	}
	command := []string{"loadbench"}
	fs.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		switch f.Name {
		case "database-url":
			v = "$DATABASE_URL"
		case "national-database-url":
			v = "URL"
		}
		command = append(command, "-"+f.Name, v)
	})
	return cfg, strings.Join(command, " "), nil
}

// scenarioNames lists the -scenario values, sorted, for messages.
func scenarioNames() []string {
	var names []string
	for n := range scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// bench runs the scenarios in turn and writes the section of each as
// soon as it is measured, so that a later failure keeps the figures
// already made. It reports whether any request failed.
func bench(ctx context.Context, cfg config, command string) (bool, error) {
	if _, err := os.Stat(cfg.serverBin); err != nil {
		return false, fmt.Errorf("server binary: %w (build it with: go build -o bin/battlemap ./cmd/battlemap)", err)
	}
	pc, err := poolConfig(cfg.databaseURL, cfg.connections)
	if err != nil {
		return false, fmt.Errorf("database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	if err := prepare(ctx, cfg, pool, func(ctx context.Context) error {
		fmt.Fprintln(os.Stderr, "loadbench: the database is empty; loading the demo data")
		return battlemap(ctx, cfg, "seed")
	}); err != nil {
		return false, err
	}
	host, err := machine(ctx, pool)
	if err != nil {
		return false, err
	}
	pg, err := postmaster(ctx, pool)
	if err != nil {
		return false, err
	}

	errored := false
	for _, name := range cfg.scenarios {
		sc, err := scenarios[name](ctx, pool)
		if err != nil {
			return false, fmt.Errorf("scenario %s: %w", name, err)
		}
		scCfg := cfg
		if sc.connections > 0 {
			scCfg.connections = sc.connections
		}
		warmup := fmt.Sprintf("%s warm-up", cfg.warmup)
		if slices.ContainsFunc(sc.servers, func(sr serverRun) bool { return sr.cold }) {
			warmup += " (none before a cold run)"
		}
		timing := fmt.Sprintf("each run %s after a %s", cfg.duration, warmup)
		if sc.timing != "" {
			timing = sc.timing
		}
		settings := fmt.Sprintf("%d connections; %s; server `%s`", scCfg.connections, timing, cfg.serverBin)
		list := fmt.Sprintf("%d requests, ", len(sc.requests))
		if len(sc.requests) == 0 {
			list = "" // a run of its own, with lists of its own
		}
		fmt.Fprintf(os.Stderr, "loadbench: %s: %s%d connections, %s\n", name, list, scCfg.connections, timing)
		runs, err := runScenario(ctx, scCfg, sc, pc, pg)
		if sc.close != nil {
			sc.close()
		}
		if err != nil {
			return false, fmt.Errorf("scenario %s: %w", name, err)
		}
		sec := section(sc, command, settings, host, runs)
		fmt.Print("\n" + sec)
		if err := writeSection(cfg.out, sec); err != nil {
			return false, fmt.Errorf("write %s: %w", cfg.out, err)
		}
		fmt.Fprintf(os.Stderr, "loadbench: wrote section %q of %s\n", sc.title, cfg.out)
		errored = errored || slices.ContainsFunc(runs, func(r *result) bool { return r.counts[failed] > 0 })
	}
	return errored, nil
}

// poolConfig is the configuration of loadbench's pools of conns
// connections on dbURL: the server's session settings and statement
// limit, so that the ceiling is what the server's pool could reach.
func poolConfig(dbURL string, conns int) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = int32(conns)
	pc.ConnConfig.RuntimeParams["application_name"] = "loadbench"
	for k, v := range geo.SessionParams(25 * time.Second) {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	return pc, nil
}

// runScenario measures sc: by its own run when it has one; else, unless
// it is serverOnly, the twins, and the ceilings if the scenario has them
// (see sqlMeasure), then each server run; pg is PostgreSQL's postmaster,
// for the CPU figures.
func runScenario(ctx context.Context, cfg config, sc *scenario, pc *pgxpool.Config, pg int) ([]*result, error) {
	if sc.run != nil {
		return sc.run(ctx, cfg, pc, pg)
	}
	var runs []*result
	if !sc.serverOnly {
		var err error
		if runs, err = sqlMeasure(ctx, cfg, sc, pc, pg); err != nil {
			return nil, err
		}
	}
	for _, sr := range sc.servers {
		r, err := serverMeasure(ctx, cfg, sc, sr, pg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sr.name, err)
		}
		runs = append(runs, r)
		printRun(r, sc.unit)
	}
	return runs, nil
}

// sqlMeasure runs sc's twins, and its ceilings if it has them, on a
// pool like pc, of cfg.connections connections, with the scenario's
// session settings.
func sqlMeasure(ctx context.Context, cfg config, sc *scenario, pc *pgxpool.Config, pg int) ([]*result, error) {
	sessionPC := pc.Copy()
	sessionPC.MaxConns = int32(cfg.connections)
	for k, v := range sc.session {
		sessionPC.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(ctx, sessionPC)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	sqlRuns := []sqlClient{{pool: pool}}
	if sc.ceiling != "" {
		sqlRuns = append(sqlRuns, sqlClient{pool: pool, ceiling: true})
	}
	var runs []*result
	for _, c := range sqlRuns {
		name := ceilingRun
		if c.ceiling {
			name = sc.ceiling
		}
		rs, err := measure(ctx, cfg, procs{postmaster: pg}, requestLoad(c, sc.requests, cfg.connections, 0))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r := rs[0]
		r.name = name
		runs = append(runs, r)
		printRun(r, sc.unit)
	}
	return runs, nil
}

// prepare brings the schema of pool's database, cfg.databaseURL, up to
// date with the server binary and calls load when it has no map data,
// then refreshes the planner's statistics and the visibility map, so
// that autovacuum does not wake up in the middle of a run.
func prepare(ctx context.Context, cfg config, pool *pgxpool.Pool, load func(context.Context) error) error {
	if err := battlemap(ctx, cfg, "migrate"); err != nil {
		return err
	}
	var regions int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM regions`).Scan(&regions); err != nil {
		return fmt.Errorf("count regions: %w", err)
	}
	if regions == 0 {
		if err := load(ctx); err != nil {
			return err
		}
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return fmt.Errorf("vacuum analyze: %w", err)
	}
	return nil
}

// battlemap runs one battlemap subcommand, with its args after it, on
// the database; what it prints goes to stderr.
func battlemap(ctx context.Context, cfg config, subcommand string, args ...string) error {
	cmd := exec.CommandContext(ctx, cfg.serverBin, append([]string{subcommand, "--database-url", cfg.databaseURL, "--log-level", "warn"}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(cfg.serverBin), strings.Join(append([]string{subcommand}, args...), " "), err)
	}
	return nil
}

// serverMeasure starts a server for sr, loads it and stops it, whatever
// happens; pg is PostgreSQL's postmaster, for the CPU figures.
func serverMeasure(ctx context.Context, cfg config, sc *scenario, sr serverRun, pg int) (*result, error) {
	srv, err := startServer(ctx, cfg.serverBin, cfg.databaseURL, sr.flags)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	c := newHTTPClient(srv.port, cfg.connections)
	defer c.close()
	if sr.cold {
		cfg.warmup = 0 // cfg is this run's copy
	}
	if sr.warm {
		// One full pass, each request once, fills the server's cache.
		if err := warmPass(ctx, c, sc.requests, cfg.connections); err != nil {
			return nil, err
		}
	}
	rs, err := measure(ctx, cfg, procs{server: srv.pid(), postmaster: pg}, requestLoad(c, sc.requests, cfg.connections, 0))
	if err != nil {
		return nil, err
	}
	rs[0].name = sr.name
	return rs[0], nil
}

// warmPass asks c for each of reqs once, over conns connections, so that
// what the server caches is in its cache.
func warmPass(ctx context.Context, c client, reqs []request, conns int) error {
	if _, err := drive(ctx, requestLoad(c, reqs, conns, int64(len(reqs))), time.Now().Add(10*time.Minute)); err != nil {
		return fmt.Errorf("warming pass: %w", err)
	}
	return nil
}

// measure warms up, then puts loads on at once for the run's duration,
// recording the CPU use of p's processes and, when p has a server, its
// memory. It returns the figures of each load, in the order of loads;
// when there are several, each is marked shared.
func measure(ctx context.Context, cfg config, p procs, loads ...workload) ([]*result, error) {
	if cfg.warmup > 0 {
		if _, err := driveAll(ctx, loads, time.Now().Add(cfg.warmup)); err != nil {
			return nil, err
		}
	}
	before, err := readCPU(p)
	if err != nil {
		return nil, err
	}
	var rss *rssSampler
	if p.server > 0 {
		rss = sampleRSS(p.server)
	}
	rs, err := driveAll(ctx, loads, time.Now().Add(cfg.duration))
	var rssMax, hwm int64
	if rss != nil {
		rssMax = rss.stop()
	}
	if err != nil {
		return nil, err
	}
	after, err := readCPU(p)
	if err != nil {
		return nil, err
	}
	if p.server > 0 {
		if hwm, err = statusKiB(fmt.Sprintf("/proc/%d/status", p.server), "VmHWM"); err != nil {
			return nil, err
		}
	}
	for _, r := range rs {
		r.cpu = after.since(before)
		r.rssMax, r.hwm = rssMax, hwm
		r.shared = len(rs) > 1
	}
	return rs, nil
}

// driveAll drives each of loads until deadline, all at once, and returns
// their figures in the order of loads.
func driveAll(ctx context.Context, loads []workload, deadline time.Time) ([]*result, error) {
	rs := make([]*result, len(loads))
	errs := make([]error, len(loads))
	var wg sync.WaitGroup
	for i, l := range loads {
		wg.Go(func() { rs[i], errs[i] = drive(ctx, l, deadline) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rs, nil
}

// postmaster is the pid of PostgreSQL's postmaster, the parent of this
// pool's backends, when it runs on this machine; else 0.
func postmaster(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var backend int
	if err := pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0, fmt.Errorf("backend pid: %w", err)
	}
	// A database elsewhere has a pid that means nothing here, or names
	// some unrelated local process: only trust a postgres child of a
	// postgres.
	_, ppid, err := procStat(strconv.Itoa(backend))
	if err != nil {
		return 0, nil
	}
	for _, pid := range []int{backend, ppid} {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			return 0, nil
		}
	}
	return ppid, nil
}

// printRun prints one run's headline figures to stderr as it finishes.
func printRun(r *result, unit string) {
	fmt.Fprintf(os.Stderr, "loadbench: %-22s %8s %s/s  p50 %s  p99 %s  errors %d\n",
		r.name, perSecond(r.rate()), unit, ms(r.percentile(0.5)), ms(r.percentile(0.99)), r.counts[failed])
	if r.firstErr != nil {
		fmt.Fprintf(os.Stderr, "loadbench: %s: first error: %v\n", r.name, r.firstErr)
	}
	if r.firstOther != nil {
		fmt.Fprintf(os.Stderr, "loadbench: %s: other answers %s; the first: %v\n", r.name, otherStatuses(r), r.firstOther)
	}
}
