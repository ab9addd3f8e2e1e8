package pgcluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// alive reports whether pid is a running process (a zombie is not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func startCluster(t *testing.T, dir string) *Cluster {
	t.Helper()
	c, err := New(dir, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func exec1(t *testing.T, c *Cluster, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatalf("connect %s: %v", c.URL(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestStartRestartStop covers the cluster's life: created on first start
// with PostGIS available, its data kept across a restart in the same
// directory, and no process left once stopped.
func TestStartRestartStop(t *testing.T) {
	dir := t.TempDir()
	c := startCluster(t, dir)
	exec1(t, c, `SELECT postgis_full_version(); CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`)
	pid := c.Pid()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if alive(pid) {
		t.Fatalf("postgres %d still running after Stop", pid)
	}

	c2 := startCluster(t, dir)
	exec1(t, c2, `DO $$ BEGIN IF (SELECT v FROM kept) <> 42 THEN RAISE 'lost data'; END IF; END $$`)
	pid = c2.Pid()
	if err := c2.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if alive(pid) {
		t.Fatalf("postgres %d still running after second Stop", pid)
	}
	if err := c2.Stop(); err != nil {
		t.Fatalf("Stop of a stopped cluster: got %v, want nil", err)
	}
}

// TestNoOrphanWhenKilled kills, with SIGKILL, a process running a
// cluster: postgres must not outlive it.
func TestNoOrphanWhenKilled(t *testing.T) {
	if dir := os.Getenv("PGCLUSTER_TEST_CHILD"); dir != "" {
		c, err := New(dir, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "child.pid"), []byte(strconv.Itoa(c.Pid())), 0o644)
		time.Sleep(time.Minute)
		t.Fatal("child was not killed")
	}
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestNoOrphanWhenKilled$")
	child.Env = append(os.Environ(), "PGCLUSTER_TEST_CHILD="+dir)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	deadline := time.Now().Add(time.Minute)
	for pid == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(dir, "child.pid"))
		pid, _ = strconv.Atoi(string(b))
		time.Sleep(50 * time.Millisecond)
	}
	if pid == 0 {
		child.Process.Kill()
		t.Fatal("child did not start its cluster within a minute")
	}
	child.Process.Kill()
	child.Wait()
	for deadline = time.Now().Add(30 * time.Second); alive(pid) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		t.Fatalf("postgres %d outlived the killed battlemap process", pid)
	}
}

func TestSocketDir(t *testing.T) {
	short := "/srv/battlemap"
	if got, want := socketDir(short), "/srv/battlemap/run"; got != want {
		t.Errorf("socketDir(%q) = %q, want %q", short, got, want)
	}
	long := "/" + strings.Repeat("deep/", 30) + "var"
	got := socketDir(long)
	if strings.HasPrefix(got, long) || len(got)+len("/.s.PGSQL.5432") > maxSocketPath {
		t.Errorf("socketDir(long) = %q: want a short directory outside the data dir", got)
	}
	if again := socketDir(long); again != got {
		t.Errorf("socketDir is not stable: %q then %q", got, again)
	}
}

func TestURL(t *testing.T) {
	c := &Cluster{sockDir: "/srv/battlemap/run"}
	want := "postgres://battlemap@/battlemap?host=%2Fsrv%2Fbattlemap%2Frun&port=5432"
	if got := c.URL(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
	if _, err := pgx.ParseConfig(c.URL()); err != nil {
		t.Errorf("URL does not parse: %v", err)
	}
}

// TestMissingBinaries: without PostgreSQL, or with it but without
// PostGIS, the error says which Debian packages to install.
func TestMissingBinaries(t *testing.T) {
	if _, err := pickBinaries(nil); !errors.Is(err, ErrMissingBinaries) || !strings.Contains(err.Error(), "apt-get install postgresql-15 postgresql-15-postgis-3") {
		t.Errorf("no PostgreSQL: got %v", err)
	}
	// A PostgreSQL 15 whose share directory has no postgis.control.
	root := t.TempDir()
	bin := filepath.Join(root, "15", "bin")
	share := filepath.Join(root, "share")
	os.MkdirAll(bin, 0o755)
	os.MkdirAll(filepath.Join(share, "extension"), 0o755)
	for name, script := range map[string]string{
		"postgres":  "#!/bin/sh\nexit 0\n",
		"initdb":    "#!/bin/sh\nexit 0\n",
		"pg_config": "#!/bin/sh\necho " + share + "\n",
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pickBinaries([]string{bin}); !errors.Is(err, ErrMissingBinaries) || !strings.Contains(err.Error(), "apt-get install postgresql-15-postgis-3") {
		t.Errorf("no PostGIS: got %v", err)
	}
	os.WriteFile(filepath.Join(share, "extension", "postgis.control"), nil, 0o644)
	if got, err := pickBinaries([]string{bin}); err != nil || got != bin {
		t.Errorf("with PostGIS: got %q, %v; want %q", got, err, bin)
	}
}

// TestRoles: the cluster's owner and app roles exist, neither is a
// superuser, the owner owns the battlemap database, the app role may not
// create anything in it but may read a GeoTIFF through PostGIS.
func TestRoles(t *testing.T) {
	c := startCluster(t, t.TempDir())
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, role := range []string{OwnerRole, AppRole} {
		var super, createRole, createDB bool
		err := conn.QueryRow(ctx, `SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1`, role).
			Scan(&super, &createRole, &createDB)
		if err != nil || super || createRole || createDB {
			t.Errorf("role %s: superuser %v, createrole %v, createdb %v (%v); want a role with none", role, super, createRole, createDB, err)
		}
	}
	var dbOwner string
	if err := conn.QueryRow(ctx, `SELECT datdba::regrole::text FROM pg_database WHERE datname = $1`, Database).Scan(&dbOwner); err != nil || dbOwner != OwnerRole {
		t.Errorf("owner of database %s: got %q (%v), want %s", Database, dbOwner, err, OwnerRole)
	}
	app, err := pgx.Connect(ctx, c.RoleURL(AppRole))
	if err != nil {
		t.Fatalf("connect as %s: %v", AppRole, err)
	}
	defer app.Close(ctx)
	var user string
	if err := app.QueryRow(ctx, `SELECT current_user`).Scan(&user); err != nil || user != AppRole {
		t.Errorf("current_user over RoleURL(AppRole): got %q (%v), want %s", user, err, AppRole)
	}
	if _, err := app.Exec(ctx, `CREATE TABLE intruder (v int)`); err == nil {
		t.Errorf("%s created a table in the battlemap database; want permission denied", AppRole)
	}
	// The DEM import's needs: PostGIS raster, made by the superuser, and
	// GDAL's GTiff driver alone, which only a superuser may enable; the
	// app role reads a GeoTIFF with it.
	var drivers string
	var width int
	err = app.QueryRow(ctx, `SELECT current_setting('postgis.gdal_enabled_drivers'),
		ST_Width(ST_FromGDALRaster(ST_AsGDALRaster(ST_AddBand(ST_MakeEmptyRaster(3, 2, 0, 0, 1, -1, 0, 0, 32648), '32BF'::text, 7, 0), 'GTiff')))`).
		Scan(&drivers, &width)
	if err != nil || drivers != "GTiff" || width != 3 {
		t.Errorf("GeoTIFF through PostGIS as %s: drivers %q, width %d (%v); want GTiff alone and a raster 3 wide", AppRole, drivers, width, err)
	}
}

// TestRestartAfterKill kills postgres with SIGKILL: the cluster says it
// is restarting, removes the stale postmaster.pid, is back with a new
// postgres that keeps the data, and still stops cleanly.
func TestRestartAfterKill(t *testing.T) {
	c := startCluster(t, t.TempDir())
	exec1(t, c, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`)
	if got := c.State(); got != StateRunning {
		t.Fatalf("State before the kill: got %s, want %s", got, StateRunning)
	}
	old := c.Pid()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sawRestarting := false
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st := c.State()
		sawRestarting = sawRestarting || st == StateRestarting
		if st == StateRunning && c.Pid() != old {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawRestarting {
		t.Errorf("State never said %s after postgres was killed", StateRestarting)
	}
	pid := c.Pid()
	if c.State() != StateRunning || pid == old || pid == 0 {
		t.Fatalf("30 s after the kill: state %s, pid %d (killed %d); want running with a new postgres", c.State(), pid, old)
	}
	exec1(t, c, `DO $$ BEGIN IF (SELECT v FROM kept) <> 42 THEN RAISE 'lost data'; END IF; END $$`)
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if alive(pid) || c.State() != StateStopped {
		t.Fatalf("after Stop: postgres %d alive %v, state %s; want gone and %s", pid, alive(pid), c.State(), StateStopped)
	}
}

// TestStandby makes a streaming replica of a running cluster: it holds
// what the primary held, follows what the primary writes next, refuses
// writes, and, stopped and started again in its own directory, catches
// up with what it missed.
func TestStandby(t *testing.T) {
	primary := startCluster(t, t.TempDir())
	exec1(t, primary, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (1)`)
	standby, err := primary.Standby(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := standby.Start(ctx); err != nil {
		t.Fatalf("Start standby: %v", err)
	}
	t.Cleanup(func() { _ = standby.Stop() })
	if standby.URL() == primary.URL() {
		t.Fatalf("standby and primary share the URL %s", standby.URL())
	}
	sum := func(want int) {
		t.Helper()
		conn, err := pgx.Connect(ctx, standby.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var got int
		var recovering bool
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err := conn.QueryRow(ctx, `SELECT sum(v), pg_is_in_recovery() FROM kept`).Scan(&got, &recovering); err != nil {
				t.Fatal(err)
			}
			if got == want || time.Now().After(end) {
				break
			}
		}
		if got != want || !recovering {
			t.Fatalf("standby: sum %d, in recovery %v; want %d, true", got, recovering, want)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO kept VALUES (100)`); err == nil {
			t.Fatal("the standby took a write")
		}
	}
	sum(1)
	exec1(t, primary, `INSERT INTO kept VALUES (2)`)
	sum(3)
	if err := standby.Stop(); err != nil {
		t.Fatal(err)
	}
	exec1(t, primary, `INSERT INTO kept VALUES (4)`)
	if err := standby.Start(ctx); err != nil {
		t.Fatalf("restart standby: %v", err)
	}
	sum(7)
	if _, err := primary.Standby(primary.dir); err == nil {
		t.Error("Standby in the primary's own directory: got no error")
	}
}
