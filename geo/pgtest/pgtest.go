// Package pgtest gives each test a database of its own on a real
// PostgreSQL + PostGIS cluster, never a mock.
//
// Where the cluster comes from: BATTLEMAP_TEST_DATABASE_URL, when set,
// names a database on a cluster where the URL's role may create databases
// (`make test` starts one private cluster with `battlemap exec` and shares
// it across all packages). Otherwise each test process starts its own
// private cluster through pgcluster, the same code as battlemap's
// embedded default, in a temporary directory that Main removes.
//
// Each database is a copy of a template that holds the migrated schema
// and the Zunyi demo data. The template is built once per cluster, under
// an advisory lock, and named after a hash of the migrations and the demo
// files, so a change to either builds a fresh one.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/demo"
	"github.com/zunyi/battlemap/geo/pgcluster"
	"github.com/zunyi/battlemap/migrations"
)

// EnvURL names the variable holding the shared test cluster's URL, in
// postgres:// form.
const EnvURL = "BATTLEMAP_TEST_DATABASE_URL"

// lockKey serialises template builds across test processes.
const lockKey = 0x6261_7474_6c65 // "battle"

var (
	setupOnce sync.Once
	setupErr  error
	adminURL  string             // a database on the cluster, for CREATE/DROP DATABASE
	private   *pgcluster.Cluster // the cluster this process started, if any
	tmpDir    string
	templates sync.Map // template name → error from building it
)

// Main runs the tests of a package and then stops the private cluster it
// may have started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if private != nil {
		_ = private.Stop()
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

// setup finds or starts the cluster, once per process.
func setup() error {
	setupOnce.Do(func() {
		if adminURL = os.Getenv(EnvURL); adminURL != "" {
			return
		}
		if tmpDir, setupErr = os.MkdirTemp("", "battlemap-pgtest-"); setupErr != nil {
			return
		}
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if private, setupErr = pgcluster.New(tmpDir, log); setupErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if setupErr = private.Start(ctx); setupErr == nil {
			adminURL = private.URL()
		}
	})
	return setupErr
}

// New returns a pool on a fresh database holding the migrated schema and
// the demo data. The database is dropped when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	tpl, err := template()
	if err != nil {
		t.Fatalf("pgtest: template: %v", err)
	}
	return create(t, tpl)
}

// NewEmpty returns a pool on a fresh, empty database (no schema, no
// PostGIS), for tests of migrations. It is dropped when the test ends.
func NewEmpty(t testing.TB) *pgxpool.Pool {
	t.Helper()
	if err := setup(); err != nil {
		t.Fatalf("pgtest: cluster: %v", err)
	}
	return create(t, "template0")
}

// Versions returns pool's data versions as battlemap serve reads them
// with --version-check mode: "query" reads one per lookup, "notify"
// listens for them, until the test ends.
func Versions(t testing.TB, pool *pgxpool.Pool, mode string) *geo.Versions {
	v := geo.NewVersions(pool, slog.New(slog.DiscardHandler))
	if mode == "notify" {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go v.Listen(ctx)
	}
	return v
}

func create(t testing.TB, template string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	name := "t_" + randomHex(8)
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	// Two processes cloning one template at the same instant can see each
	// other's clone as a user of the template (SQLSTATE 55006): retry.
	for attempt := 0; ; attempt++ {
		_, err = admin.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || attempt == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
	dbURL, err := databaseURL(name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// The settings of the server's own connections (JIT off, above all),
	// so that tests and benchmarks run statements as the server does.
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	for k, v := range geo.SessionParams(0) {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		admin, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return pool
}

// databaseURL is adminURL (a postgres:// URL) with its database replaced
// by name.
func databaseURL(name string) (string, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// template returns the name of the template database for the current
// migrations and demo data, building it if no process has yet.
func template() (string, error) {
	if err := setup(); err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	name, err := templateName()
	if err != nil {
		return "", err
	}
	if v, ok := templates.Load(name); ok {
		if v != nil {
			return "", v.(error)
		}
		return name, nil
	}
	err = buildTemplate(name)
	if err != nil {
		templates.Store(name, err)
		return "", err
	}
	templates.Store(name, nil)
	return name, nil
}

func templateName() (string, error) {
	h := sha256.New()
	for _, fsys := range []fs.FS{migrations.Files(), demo.Files()} {
		err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, path)
			fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
			h.Write(b)
			return err
		})
		if err != nil {
			return "", err
		}
	}
	return "battlemap_tpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

func buildTemplate(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return err
	}
	defer admin.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil || exists {
		return err
	}
	// Build under a scratch name and rename at the end, so a template that
	// exists is always complete.
	scratch := name + "_build"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{scratch}.Sanitize()+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{scratch}.Sanitize()+" TEMPLATE template0"); err != nil {
		return err
	}
	dbURL, err := databaseURL(scratch)
	if err != nil {
		return err
	}
	if err := fill(ctx, dbURL); err != nil {
		return fmt.Errorf("build %s: %w", name, err)
	}
	_, err = admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{scratch}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize())
	return err
}

// fill migrates the database at url and loads the demo data into it.
func fill(ctx context.Context, dbURL string) error {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	err = migrations.Up(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		return err
	}
	if err := demo.Load(ctx, pool, geo.Actor{Name: "pgtest template", All: true}, false); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, "VACUUM ANALYZE")
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Acquire takes a connection of pool for a test that needs one session
// throughout (its settings, its prepared statements, a LISTEN); it is
// released when the test ends.
func Acquire(t testing.TB, pool *pgxpool.Pool) *pgxpool.Conn {
	t.Helper()
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatalf("pgtest: acquire a connection: %v", err)
	}
	t.Cleanup(conn.Release)
	return conn
}

// AppURL is the URL of pool's database with the server's own role
// (pgcluster.AppRole) as its user, for a battlemap process a test starts.
func AppURL(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	u, err := url.Parse(pool.Config().ConnString())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.User = url.User(pgcluster.AppRole)
	return u.String()
}

// AsApp returns a pool on pool's database that connects as the server's
// own role (pgcluster.AppRole), under which row-level security holds, as
// battlemap serve connects: tests of who may change what use it, since
// the test cluster's own role is a superuser, whom no policy binds. It
// is closed when the test ends.
func AsApp(t testing.TB, pool *pgxpool.Pool) *pgxpool.Pool {
	t.Helper()
	cfg := pool.Config().Copy()
	cfg.ConnConfig.User = pgcluster.AppRole
	app, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: connect as %s: %v", pgcluster.AppRole, err)
	}
	t.Cleanup(app.Close)
	return app
}
