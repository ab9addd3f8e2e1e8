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
//
// Without DATABASE_URL, battlemap runs a private PostgreSQL + PostGIS
// cluster in --data-dir and stops it when it exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

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
		"import": importCmd,
	}
	f, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(os.Stderr, "battlemap: unknown command %q (serve, migrate, seed, dburl, exec, import)\n", cmd)
		return 2
	}
	cfg, rest, err := parseConfig(cmd, args, os.Getenv)
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
// cluster behind them. Tiles have a pool of their own, whose sessions are
// set up for the tile statements (tiles.SessionParams).
type database struct {
	pool     *pgxpool.Pool
	tilePool *pgxpool.Pool
	cluster  *pgcluster.Cluster
}

// openDatabase connects to DATABASE_URL or starts the private cluster,
// then migrates the schema.
func openDatabase(ctx context.Context, cfg Config, log *slog.Logger) (*database, error) {
	db := &database{}
	url := cfg.Database.URL
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
		db.cluster, url = c, c.URL()
	}
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		db.close()
		return nil, usagef("invalid value for DATABASE_URL: %v", err)
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
	if db.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		db.close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if db.tilePool, err = pgxpool.NewWithConfig(ctx, tc); err != nil {
		db.close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if err := migrateSchema(ctx, db.pool); err != nil {
		db.close()
		return nil, err
	}
	return db, nil
}

func migrateSchema(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	return migrations.Up(ctx, conn.Conn())
}

func (db *database) close() {
	for _, p := range []*pgxpool.Pool{db.pool, db.tilePool} {
		if p != nil {
			p.Close()
		}
	}
	if db.cluster != nil {
		_ = db.cluster.Stop()
	}
}

func serve(ctx context.Context, cfg Config, _ []string, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, log)
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
	tileService := tiles.NewService(tiles.Config{Attribution: demo.Attribution}, db.tilePool)
	srv := web.New(web.Config{
		RequestTimeout: cfg.Server.RequestTimeout,
		BodyLimit:      cfg.Server.BodyLimit,
		PublicURL:      cfg.Server.PublicURL,
		TileMaxAge:     cfg.Tiles.MaxAge,
		ImportEnabled:  cfg.Import.Enabled,
		CacheBytes:     cfg.API.CacheBytes,
		TileCacheBytes: cfg.Tiles.CacheBytes,
		Versions:       versions,
	}, db.pool, tileService, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Listen(cfg.Server.Addr) }()
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
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	db.close()
	log.Info("schema is up to date")
	return nil
}

func seed(ctx context.Context, cfg Config, _ []string, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, log)
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
