// Command battlemap serves the poverty-alleviation battle map: vector
// tiles and GeoJSON of villages, relocation sites and projects from
// PostGIS.
//
// Usage:
//
//	battlemap [serve] [flags]     serve HTTP (the default)
//	battlemap migrate [flags]     bring the schema up to date
//	battlemap seed [flags]        load the Zunyi demo data (--replace to overwrite)
//	battlemap dburl [flags]       print the private cluster's connection URL
//	battlemap exec [flags] -- CMD run CMD with the private cluster up and DATABASE_URL set
//	battlemap import --layer L FILE  load villages, sites or projects from GeoJSON or CSV, all or nothing
//	battlemap user add --name NAME --role admin|county|viewer [--county CODE …]
//	battlemap user list           list the accounts
//	battlemap user disable NAME   end an account and its tokens and sessions
//	battlemap token create --user NAME [--expires DURATION]  make an API token, shown once
//
// Without DATABASE_URL, battlemap runs a private PostgreSQL + PostGIS
// cluster in --data-dir and stops it when it exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/demo"
	"github.com/zunyi/battlemap/geo/pgcluster"
	"github.com/zunyi/battlemap/migrations"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the process exit status: 0 on
// success, 2 for a usage or configuration error, 1 for anything else.
func run(ctx context.Context, args []string) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	commands := map[string]func(context.Context, Config, []string, *slog.Logger) error{
		"serve": serve, "migrate": migrateCmd, "seed": seed, "dburl": dburl, "exec": execWithCluster,
		"import": importCmd, "user": userCmd, "token": tokenCmd,
	}
	f, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(os.Stderr, "battlemap: unknown command %q (serve, migrate, seed, dburl, exec, import, user, token)\n", cmd)
		return 2
	}
	cfg, rest, err := parseConfig(cmd, args, os.Getenv)
	if err == nil && verbCommands[cmd] && len(rest) > 0 {
		// user and token take a verb ("user add --name …"), and the flag
		// package stops at the first argument that is not a flag: the
		// flags after the verb are parsed again with those before it, and
		// the verb goes to the command as its first argument.
		before := args[:len(args)-len(rest)]
		verb := rest[0]
		cfg, rest, err = parseConfig(cmd, append(slices.Clip(before), rest[1:]...), os.Getenv)
		rest = append([]string{verb}, rest...)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "battlemap: %v\n", err)
		return 2
	}
	log := newLogger(cfg)
	if err := f(ctx, cfg, rest, log); err != nil {
		var uerr *usageError
		var xerr *exec.ExitError
		switch {
		case errors.As(err, &uerr):
			fmt.Fprintf(os.Stderr, "battlemap: %v\n", err)
			return 2
		case errors.As(err, &xerr):
			return xerr.ExitCode()
		}
		log.Error("battlemap "+cmd+" failed", slog.Any("err", err))
		return 1
	}
	return 0
}

func newLogger(cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.Level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// database is the open pools and, when battlemap runs its own, the
// cluster behind them, and the pools of the read replicas.
type database struct {
	pools
	// replicas hold the same pools on each read replica, and route
	// reads to them (nil without replicas).
	replicas      []pools
	replicaRoutes *geo.Replicas
	cluster       *pgcluster.Cluster
}

// warmConns is how many of the tile pool's connections serve starts with
// every zoom's tile statement planned (tiles.Service.Warm), and of the
// pool's with the search's (geo.WarmSearch): a screen's first tiles come
// over a few connections at once.
const warmConns = 4

// pools are the pools battlemap keeps on one database server. Tiles have
// a pool of their own, whose sessions are set up for the tile statements
// (tiles.SessionParams); pastPool and pastTilePool read the map as of a
// past moment, beside pool and tilePool (geo.OpenPast).
type pools struct {
	pool, tilePool, pastPool, pastTilePool *pgxpool.Pool
}

// openPools opens the pools on the database at url, flag naming where
// the URL came from for the error of one that does not parse. They
// connect as the URL says, with application_name battlemap.
func openPools(ctx context.Context, cfg Config, url, flag string) (pools, error) {
	var p pools
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return p, usagef("invalid value for %s: %v", flag, err)
	}
	pc.MaxConns = int32(cfg.Database.MaxConns)
	pc.ConnConfig.RuntimeParams["application_name"] = "battlemap"
	for k, v := range geo.SessionParams(cfg.Database.StatementTimeout) {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	tc := pc.Copy()
	for k, v := range tiles.SessionParams() {
		tc.ConnConfig.RuntimeParams[k] = v
	}
	if p.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return p, fmt.Errorf("connect: %w", err)
	}
	if p.tilePool, err = pgxpool.NewWithConfig(ctx, tc); err != nil {
		p.close()
		return p, fmt.Errorf("connect: %w", err)
	}
	p.pastPool, p.pastTilePool = geo.OpenPast(p.pool), geo.OpenPast(p.tilePool)
	return p, nil
}

func (p pools) close() {
	for _, pool := range []*pgxpool.Pool{p.pool, p.tilePool, p.pastPool, p.pastTilePool} {
		if pool != nil {
			pool.Close()
		}
	}
}

// mirrors maps each of p's pools to the same pool of replica.
func (p pools) mirrors(replica pools) map[*pgxpool.Pool]*pgxpool.Pool {
	return map[*pgxpool.Pool]*pgxpool.Pool{
		p.pool: replica.pool, p.tilePool: replica.tilePool,
		p.pastPool: replica.pastPool, p.pastTilePool: replica.pastTilePool,
	}
}

// openDatabase connects to DATABASE_URL or starts the private cluster,
// then migrates the schema. On the private cluster the migrations run as
// pgcluster.OwnerRole and the pools connect as role (pgcluster.AppRole
// for the server); with DATABASE_URL everything uses the URL's role, and
// a superuser there is warned about. Pools on the replicas of
// --replica-url are opened too, for serve to route reads to.
func openDatabase(ctx context.Context, cfg Config, log *slog.Logger, role string) (*database, error) {
	db := &database{}
	url, migrateURL := cfg.Database.URL, ""
	if url == "" {
		c, err := pgcluster.New(cfg.Database.DataDir, log)
		if err != nil {
			return nil, err
		}
		startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := c.Start(startCtx); err != nil {
			return nil, err
		}
		db.cluster, url, migrateURL = c, c.RoleURL(role), c.RoleURL(pgcluster.OwnerRole)
	}
	var err error
	if db.pools, err = openPools(ctx, cfg, url, "DATABASE_URL"); err != nil {
		db.close()
		return nil, err
	}
	if err := migrateSchema(ctx, db.pool, migrateURL); err != nil {
		db.close()
		return nil, err
	}
	var super bool
	if err := db.pool.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		db.close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if super {
		// A superuser bypasses row-level security, even forced, and can
		// read files and run programs on the database host.
		log.Warn("connected to the database as a superuser; give battlemap a role of its own (README: Running it safely)")
	}
	if len(cfg.Database.ReplicaURLs) == 0 {
		return db, nil
	}
	var replicas []*geo.Replica
	for _, u := range cfg.Database.ReplicaURLs {
		// Pools connect when first used: a replica that is down now is
		// out of rotation until the checker finds it up.
		r, err := openPools(ctx, cfg, u, "BATTLEMAP_REPLICA_URL")
		if err != nil {
			db.close()
			return nil, err
		}
		db.replicas = append(db.replicas, r)
		replicas = append(replicas, geo.NewReplica(geo.ReplicaName(r.pool), db.mirrors(r)))
	}
	db.replicaRoutes = geo.NewReplicas(db.pool, replicas, cfg.Database.ReplicaMaxLag, cfg.Database.ReplicaWait, log)
	return db, nil
}

// migrateSchema brings the schema up to date: over a connection of its
// own to migrateURL when that is set (the private cluster's owner role),
// else over pool. A schema that is already current is left alone without
// taking tern's lock, so that a role that may not create tables (the app
// role of a DATABASE_URL deployment, migrated beforehand by `battlemap
// migrate` as the owner) can serve.
func migrateSchema(ctx context.Context, pool *pgxpool.Pool, migrateURL string) error {
	latest, err := migrations.Latest()
	if err != nil {
		return err
	}
	if current, err := migrations.Current(ctx, pool); err == nil && current == latest {
		return nil
	}
	if migrateURL != "" {
		conn, err := pgx.Connect(ctx, migrateURL)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer conn.Close(ctx)
		return migrations.Up(ctx, conn)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	return migrations.Up(ctx, conn.Conn())
}

// state is what the private cluster is doing (pgcluster.State), or nil
// with DATABASE_URL, whose database is someone else's to run.
func (db *database) state() func() string {
	if db.cluster == nil {
		return nil
	}
	return func() string { return string(db.cluster.State()) }
}

func (db *database) close() {
	db.pools.close()
	for _, r := range db.replicas {
		r.close()
	}
	if db.cluster != nil {
		_ = db.cluster.Stop()
	}
}

func serve(ctx context.Context, cfg Config, _ []string, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, log, pgcluster.AppRole)
	if err != nil {
		return err
	}
	defer db.close()
	if cfg.SeedDemo {
		switch err := demo.Load(ctx, db.pool, seedActor, false); {
		case errors.Is(err, demo.ErrNotEmpty):
			log.Info("database already holds map data; demo data not loaded")
		case err != nil:
			return err
		default:
			log.Info("loaded the Zunyi demo data")
		}
	}
	// One view of the data version for both caches, and one listener.
	versions := geo.NewVersions(db.pool, log)
	if cfg.VersionCheck == "notify" {
		go versions.Listen(ctx)
	}
	go db.replicaRoutes.Run(ctx)
	tileService := tiles.NewService(tiles.Config{Attribution: demo.Attribution, Past: db.pastTilePool}, db.tilePool)
	// A few connections with every zoom's tile statement planned, so that
	// the first tiles asked do not wait for the planner; a failure here
	// leaves the planning to the requests, as before.
	if err := tileService.Warm(ctx, min(warmConns, cfg.Database.MaxConns)); err != nil {
		log.Warn("tile statements not planned ahead", slog.Any("err", err))
	}
	// And the search's statements, on as many of the pool's.
	if err := geo.WarmSearch(ctx, db.pool, min(warmConns, cfg.Database.MaxConns)); err != nil {
		log.Warn("search statements not planned ahead", slog.Any("err", err))
	}
	// And the data versions: the first read takes every county's (13 ms
	// over a country's 2,809), the reads after it only what moved since.
	if _, err := versions.Snapshot(ctx); err != nil {
		log.Warn("data versions not read ahead", slog.Any("err", err))
	}
	srv := web.New(web.Config{
		RequestTimeout:  cfg.Server.RequestTimeout,
		BodyLimit:       cfg.Server.BodyLimit,
		PublicURL:       cfg.Server.PublicURL,
		TrustedProxies:  cfg.Server.TrustedProxies,
		TileMaxAge:      cfg.Tiles.MaxAge,
		ImportEnabled:   cfg.Import.Enabled,
		Root:            cfg.Root,
		ReadAccess:      cfg.ReadAccess,
		Past:            db.pastPool,
		MaxEventStreams: cfg.MaxEventStreams,
		CacheBytes:      cfg.API.CacheBytes,
		TileCacheBytes:  cfg.Tiles.CacheBytes,
		Versions:        versions,
		DatabaseState:   db.state(),
		Replicas:        db.replicaRoutes,
	}, db.pool, tileService, log)
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Root was needed to start the cluster as its user (and maybe to bind
	// the port); serving needs none of it. With a private cluster the
	// server becomes the cluster's user, the one account that can still
	// restart postgres and write its log; with DATABASE_URL, the owner of
	// its Unix socket's directory (who can still connect), else nobody.
	runAs := socketOwner(cfg.Database.URL)
	if db.cluster != nil {
		runAs = pgcluster.SystemUser
	}
	if err := dropPrivileges(runAs, log); err != nil {
		ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", slog.String("addr", "http://"+cfg.Server.Addr))
	select {
	case err := <-errc:
		return fmt.Errorf("listen: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; letting in-flight requests finish")
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(shutCtx)
}

func migrateCmd(ctx context.Context, cfg Config, _ []string, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, log, pgcluster.OwnerRole)
	if err != nil {
		return err
	}
	db.close()
	log.Info("schema is up to date")
	return nil
}

// seed loads the demo data as the owner role on the private cluster:
// --replace empties the tables with TRUNCATE, which the app role may not.
func seed(ctx context.Context, cfg Config, _ []string, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, log, pgcluster.OwnerRole)
	if err != nil {
		return err
	}
	defer db.close()
	if err := demo.Load(ctx, db.pool, seedActor, cfg.Replace); errors.Is(err, demo.ErrNotEmpty) {
		return usagef("%v; pass --replace to overwrite it", err)
	} else if err != nil {
		return err
	}
	log.Info("loaded the Zunyi demo data")
	return nil
}

func dburl(_ context.Context, cfg Config, _ []string, log *slog.Logger) error {
	c, err := pgcluster.New(cfg.Database.DataDir, log)
	if err != nil {
		return err
	}
	fmt.Println(c.URL())
	return nil
}

// execWithCluster starts the private cluster, runs the command after "--"
// with DATABASE_URL pointing at it, and stops the cluster when the command
// exits; the command's exit status becomes battlemap's.
func execWithCluster(ctx context.Context, cfg Config, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		return usagef("exec needs a command: battlemap exec [flags] -- CMD [ARGS]")
	}
	c, err := pgcluster.New(cfg.Database.DataDir, log)
	if err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := c.Start(startCtx); err != nil {
		return err
	}
	defer c.Stop()
	// A signal to battlemap is passed on to the command, so that it ends
	// before the cluster it uses is stopped.
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "DATABASE_URL="+c.URL())
	return cmd.Run()
}
