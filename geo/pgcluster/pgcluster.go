// Package pgcluster runs battlemap's private PostgreSQL + PostGIS cluster:
// a data directory of its own, reachable only through a Unix socket inside
// it (so it never clashes with another PostgreSQL on the machine), started
// as a child of the battlemap process and stopped with it.
//
// PostgreSQL refuses to run as root; when battlemap runs as root the
// cluster runs as the unprivileged "postgres" system user, which owns the
// cluster's files.
//
// The cluster is supervised (a postgres that dies is restarted with
// backoff) and has, besides its bootstrap superuser, an owner role for the
// schema and an app role for the server (roles.go). A cluster can also be
// a streaming replica of another (Standby), run by the same code.
package pgcluster

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Database is the database battlemap keeps its data in.
const Database = "battlemap"

// Superuser is the cluster's bootstrap role, fixed so that the URL is the
// same whichever OS user created the cluster.
const Superuser = "battlemap"

// SystemUser is the system account the cluster runs as when battlemap is
// started as root (PostgreSQL refuses root). battlemap serve itself
// becomes this user once the cluster is up: it must stay able to signal,
// restart and read the files of the cluster, and nothing more.
const SystemUser = "postgres"

// port only names the socket file: the cluster listens on no TCP port.
const port = "5432"

// maxSocketPath is the longest Unix socket path the kernel accepts (108
// bytes with the terminating NUL) less a margin.
const maxSocketPath = 100

// ErrMissingBinaries reports that PostgreSQL or PostGIS is not installed.
var ErrMissingBinaries = errors.New("PostgreSQL with PostGIS is not installed")

// Cluster is a private cluster kept under a battlemap data directory. Its
// zero value is not usable; call New.
//
// Once started, the cluster is supervised: if postgres exits without Stop
// asking it to (killed, crashed), it is restarted with a backoff from 1 s
// doubling to 30 s, for as long as it takes, and State says "restarting"
// meanwhile. battlemap restarts it itself rather than exiting because the
// cluster is its own child: no supervisor outside can restart postgres
// alone, and exiting would turn a database hiccup into a full restart of
// the server (init, migrations, cold caches) under whatever supervises it,
// if anything does (`make run` has nothing).
type Cluster struct {
	dir     string // battlemap's data directory, absolute
	pgdata  string // the PostgreSQL data directory inside it
	sockDir string // where the socket lives (inside dir unless the path is too long)
	bin     string // PostgreSQL's bin directory
	owner   *owner // who runs postgres; nil means the current user
	log     *slog.Logger
	// primary is the cluster this one is a streaming replica of (see
	// Standby); nil for a primary.
	primary *Cluster

	mu    sync.Mutex
	proc  *process      // the running postgres; nil when there is none
	state State         // what State reports
	quit  chan struct{} // closed by Stop to end the supervisor; nil when not started
	ended chan struct{} // closed when the supervisor has stopped postgres and returned
}

// process is one run of postgres.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when postgres has exited
	err  error         // postgres' exit status, valid once done is closed
}

// State is what a cluster is doing, as State reports it.
type State string

// The states of a cluster.
const (
	StateStopped    State = "stopped"    // never started, or stopped by Stop
	StateRunning    State = "running"    // postgres accepts connections
	StateRestarting State = "restarting" // postgres died and is being restarted
)

// owner is the unprivileged account the cluster runs as when we are root.
type owner struct {
	name     string
	uid, gid uint32
}

// New describes the cluster kept in dataDir without touching it. It
// returns an error wrapping ErrMissingBinaries, naming the Debian packages
// to install, when PostgreSQL or PostGIS cannot be found.
func New(dataDir string, log *slog.Logger) (*Cluster, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: data dir: %w", err)
	}
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, pgdata: filepath.Join(dir, "pg"), sockDir: socketDir(dir), bin: bin, log: log, state: StateStopped}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(SystemUser)
		if err != nil {
			return nil, fmt.Errorf("pgcluster: running as root needs the postgres system user (Debian's postgresql package creates it): %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		c.owner = &owner{name: u.Username, uid: uint32(uid), gid: uint32(gid)}
	}
	return c, nil
}

// socketDir keeps the socket inside the data directory unless that path
// would be too long for a Unix socket; then it goes to a short directory
// in /tmp named after the data directory, so the URL stays stable.
func socketDir(dir string) string {
	in := filepath.Join(dir, "run")
	if len(in)+len("/.s.PGSQL."+port) <= maxSocketPath {
		return in
	}
	sum := sha1.Sum([]byte(dir))
	return filepath.Join(os.TempDir(), "battlemap-"+hex.EncodeToString(sum[:6]))
}

// findBinaries looks for the newest PostgreSQL under /usr/lib/postgresql
// (Debian's layout), then on PATH, and checks that PostGIS is installed
// for that version.
func findBinaries() (string, error) {
	var candidates []string
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
		candidates = append(candidates, dirs...)
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	return pickBinaries(candidates)
}

// pickBinaries returns the first of candidates (bin directories) holding
// postgres and initdb, if PostGIS is installed for it; the errors name the
// Debian packages to install.
func pickBinaries(candidates []string) (string, error) {
	for _, bin := range candidates {
		if !executable(filepath.Join(bin, "postgres")) || !executable(filepath.Join(bin, "initdb")) {
			continue
		}
		share, err := exec.Command(filepath.Join(bin, "pg_config"), "--sharedir").Output()
		if err != nil {
			continue
		}
		control := filepath.Join(strings.TrimSpace(string(share)), "extension", "postgis.control")
		if _, err := os.Stat(control); err != nil {
			major := pgMajor(bin)
			return "", fmt.Errorf("%w: PostGIS is missing for PostgreSQL %d (apt-get install postgresql-%d-postgis-3)", ErrMissingBinaries, major, major)
		}
		return bin, nil
	}
	return "", fmt.Errorf("%w: no postgres and initdb found (apt-get install postgresql-15 postgresql-15-postgis-3)", ErrMissingBinaries)
}

func pgMajor(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// URL is the connection URL of the cluster's battlemap database as the
// superuser, for administration (`battlemap exec`, tests that create
// databases); battlemap serve uses RoleURL. It is valid whether or not
// the cluster is running.
func (c *Cluster) URL() string {
	return c.DatabaseURL(Database)
}

// DatabaseURL is the connection URL of database name in the cluster, as
// the superuser.
func (c *Cluster) DatabaseURL(name string) string {
	return c.url(Superuser, name)
}

// RoleURL is the connection URL of the battlemap database as role, one of
// OwnerRole and AppRole.
func (c *Cluster) RoleURL(role string) string {
	return c.url(role, Database)
}

func (c *Cluster) url(role, database string) string {
	q := url.Values{"host": {c.sockDir}, "port": {port}}
	u := url.URL{Scheme: "postgres", User: url.User(role), Path: "/" + database, RawQuery: q.Encode()}
	return u.String()
}

// Start initialises the cluster on first use, starts postgres as a child
// process, waits until it accepts connections, makes sure the battlemap
// database and its roles exist (OwnerRole, AppRole) and then supervises
// postgres, restarting it if it dies. postgres is told to shut down if
// this process dies, so no orphan is left behind even on SIGKILL. Call
// Stop to shut it down cleanly.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	started := c.quit != nil
	c.mu.Unlock()
	if started {
		return errors.New("pgcluster: already started")
	}
	if err := c.prepareDirs(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.pgdata, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		create := c.initdb
		if c.primary != nil {
			create = c.baseBackup
		}
		if err := create(ctx); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	p, err := c.startPostgres()
	if err != nil {
		return err
	}
	if err := c.waitReady(ctx, p); err != nil {
		c.shutdown(p)
		return err
	}
	// A standby has its primary's database and roles, and can change
	// neither.
	if c.primary == nil {
		if err := c.ensureDatabase(ctx, Database); err != nil {
			c.shutdown(p)
			return err
		}
		if err := c.ensureRoles(ctx); err != nil {
			c.shutdown(p)
			return err
		}
	}
	c.mu.Lock()
	c.proc, c.state = p, StateRunning
	c.quit, c.ended = make(chan struct{}), make(chan struct{})
	go c.supervise(p, c.quit, c.ended)
	c.mu.Unlock()
	return nil
}

// State says whether postgres is running, being restarted after it died,
// or stopped.
func (c *Cluster) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Cluster) setState(p *process, st State) {
	c.mu.Lock()
	c.proc, c.state = p, st
	c.mu.Unlock()
}

// Backoff bounds of restarts: the first comes a second after postgres
// died (its orphaned backends need a moment to notice and release the
// shared memory), each failure doubles the wait, up to half a minute.
const (
	restartFirst = time.Second
	restartMax   = 30 * time.Second
)

// supervise owns the running postgres p until quit is closed: when it
// exits unasked, supervise restarts it with backoff; when quit closes, it
// shuts postgres down and closes ended.
func (c *Cluster) supervise(p *process, quit <-chan struct{}, ended chan<- struct{}) {
	defer close(ended)
	for {
		select {
		case <-quit:
			c.shutdown(p)
			c.setState(nil, StateStopped)
			return
		case <-p.done:
		}
		c.setState(nil, StateRestarting)
		c.log.Error("postgres exited unexpectedly; restarting it",
			slog.Int("pid", p.cmd.Process.Pid), slog.Any("err", p.err), slog.String("log", c.logTail()))
		wait := restartFirst
		for attempt := 1; ; attempt++ {
			select {
			case <-quit:
				c.setState(nil, StateStopped)
				return
			case <-time.After(wait):
			}
			np, err := c.restart(quit)
			if err == nil {
				p = np
				c.setState(p, StateRunning)
				c.log.Info("postgres restarted", slog.Int("pid", p.cmd.Process.Pid), slog.Int("attempt", attempt))
				break
			}
			wait = min(2*wait, restartMax)
			c.log.Warn("postgres restart failed; retrying", slog.Int("attempt", attempt),
				slog.Duration("retry_in", wait), slog.Any("err", err))
		}
	}
}

// restart starts postgres again after it died and waits until it accepts
// connections; a postgres that does not get there is shut down again.
func (c *Cluster) restart(quit <-chan struct{}) (*process, error) {
	if err := c.removeStalePid(); err != nil {
		return nil, err
	}
	p, err := c.startPostgres()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), restartMax)
	defer cancel()
	// Stop must not wait half a minute for a postgres that cannot start.
	go func() {
		select {
		case <-quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := c.waitReady(ctx, p); err != nil {
		c.shutdown(p)
		return nil, err
	}
	return p, nil
}

// removeStalePid removes the postmaster.pid a killed postmaster left
// behind, but only if the process it names is gone: a live one (an
// orphan, or a stranger reusing the data directory) keeps it, and the
// restart fails and is retried.
func (c *Cluster) removeStalePid() error {
	path := filepath.Join(c.pgdata, "postmaster.pid")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return fmt.Errorf("pgcluster: %s does not start with a pid: %q", path, first)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("pgcluster: %s names process %d, which is still there (%v)", path, pid, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("pgcluster: remove stale %s: %w", path, err)
	}
	c.log.Warn("removed the stale postmaster.pid of a postgres that is gone", slog.Int("pid", pid), slog.String("path", path))
	return nil
}

// prepareDirs creates the data and socket directories, hands them to the
// postgres user when we are root, and makes sure that user can reach them.
func (c *Cluster) prepareDirs() error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for _, d := range []string{c.pgdata, c.sockDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		// The socket directory is what keeps other users out: the cluster
		// trusts whoever reaches its socket, so only its owner (and root)
		// may enter, even if the directory was made looser by hand.
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if c.owner != nil {
			if err := os.Chown(d, int(c.owner.uid), int(c.owner.gid)); err != nil {
				return fmt.Errorf("pgcluster: %w", err)
			}
		}
	}
	if c.owner == nil {
		return nil
	}
	// postgres' log is reopened at each restart, possibly after battlemap
	// has become the owner too: the owner must be able to write it.
	f, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	f.Close()
	if err := os.Chown(c.logPath(), int(c.owner.uid), int(c.owner.gid)); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for _, d := range []string{c.pgdata, c.sockDir} {
		if err := c.owner.grantSearch(filepath.Dir(d), c.log); err != nil {
			return err
		}
	}
	return nil
}

// grantSearch makes every directory from dir up to / searchable by the
// owner. A parent such as a root home directory of mode 0700 would
// otherwise keep postgres from its own data directory; search (x) alone is
// granted, never read, and each change is logged.
func (o *owner) grantSearch(dir string, log *slog.Logger) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		reachable := mode&0o001 != 0 ||
			(st.Uid == o.uid && mode&0o100 != 0) ||
			(st.Gid == o.gid && mode&0o010 != 0)
		if !reachable {
			if err := os.Chmod(d, fi.Mode()|0o001); err != nil {
				return fmt.Errorf("pgcluster: user %s cannot reach %s and granting search failed: %w", o.name, d, err)
			}
			log.Warn("granted search permission so the postgres user can reach the data directory",
				slog.String("dir", d), slog.String("user", o.name), slog.String("mode", (mode|0o001).String()))
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// command builds an exec.Cmd of a PostgreSQL program run as the owner.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	// Once battlemap serve has become the owner itself (see SystemUser), a
	// Credential would fail: setting groups needs root even to keep them.
	if c.owner != nil && os.Geteuid() != int(c.owner.uid) {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: c.owner.uid, Gid: c.owner.gid}
	}
	if c.owner != nil {
		cmd.Dir = c.pgdata
	}
	return cmd
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.log.Info("initialising private PostgreSQL cluster", slog.String("dir", c.pgdata))
	// trust is safe here because nobody but the cluster's own OS user
	// (and root) can reach the socket: no TCP listener, a socket
	// directory of mode 0700 and unix_socket_permissions=0700. Peer or
	// scram would add nothing against that user, who can read the data
	// files anyway; what keeps the server's SQL in bounds is its role
	// (AppRole), not authentication.
	cmd := c.command(ctx, "initdb", "-D", c.pgdata, "-U", Superuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb: %w: %s", err, lastLines(out, 10))
	}
	return nil
}

// Standby describes a cluster kept in dataDir that is a streaming
// replica of c, without touching either: its first Start copies c with
// pg_basebackup -R (c must be running then, in this process or another)
// and every Start runs it as a hot standby that follows c over c's
// socket, read only, supervised as c is. It has c's database, roles and
// authentication (pg_hba.conf is copied too): initdb's lines let the
// cluster's own OS user connect for replication over the socket, and
// PostgreSQL's defaults (wal_level replica, ten WAL senders) serve it.
// No replication slot is made: a standby stopped for long may find the
// WAL it needs recycled, and is then made anew from an empty directory.
func (c *Cluster) Standby(dataDir string) (*Cluster, error) {
	s, err := New(dataDir, c.log)
	if err != nil {
		return nil, err
	}
	if s.dir == c.dir {
		return nil, fmt.Errorf("pgcluster: a standby needs a data directory of its own, not its primary's %s", c.dir)
	}
	s.primary = c
	return s, nil
}

// baseBackup copies the running primary into the empty data directory,
// with the settings that make it a standby of it (-R: standby.signal
// and primary_conninfo), streaming the WAL written meanwhile (-X stream).
func (c *Cluster) baseBackup(ctx context.Context) error {
	c.log.Info("copying the primary into a standby", slog.String("dir", c.pgdata), slog.String("primary", c.primary.dir))
	cmd := c.command(ctx, "pg_basebackup", "-D", c.pgdata, "-R", "-X", "stream", "-c", "fast",
		"-d", c.primary.url(Superuser, "postgres"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: pg_basebackup: %w: %s", err, lastLines(out, 10))
	}
	return nil
}

// logPath is postgres' own log, kept beside its data for diagnosis.
func (c *Cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

func (c *Cluster) startPostgres() (*process, error) {
	logFile, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	// The process, not a context, ends postgres: it must outlive Start's ctx.
	cmd := c.command(context.Background(), "postgres", "-D", c.pgdata,
		"-k", c.sockDir, "-p", port,
		"-c", "listen_addresses=",
		"-c", "unix_socket_permissions=0700",
		"-c", "max_connections=200",
		"-c", "shared_buffers=256MB",
		// The DEM import hands PostGIS a GeoTIFF (ST_FromGDALRaster).
		// PostGIS enables no GDAL driver by default, and only a
		// superuser may enable one, so the cluster enables GTiff alone:
		// other drivers could reach files or the network.
		"-c", "postgis.gdal_enabled_drivers=GTiff",
		"-c", "fsync=on",
		"-c", "logging_collector=off")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// SIGINT is PostgreSQL's fast shutdown: it ends sessions, checkpoints
	// and exits, which is what we want when battlemap dies unexpectedly.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	c.log.Info("postgres started", slog.Int("pid", cmd.Process.Pid), slog.String("socket_dir", c.sockDir))
	return p, nil
}

// waitReady polls until postgres p accepts connections, fails at once if
// it exits, and gives up when ctx ends.
func (c *Cluster) waitReady(ctx context.Context, p *process) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pingCtx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(pingCtx, c.DatabaseURL("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("pgcluster: postgres exited during start (%v): %s", p.err, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: postgres not ready: %w (last error: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// ensureDatabase creates database name in the running cluster unless it
// exists.
func (c *Cluster) ensureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.DatabaseURL("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("pgcluster: create database %s: %w", name, err)
	}
	return nil
}

// Stop ends the supervision and shuts postgres down (fast shutdown:
// sessions are ended, data is checkpointed), waiting for it to exit; after
// 30 s it is killed with SIGQUIT. Stop on a cluster that is not running
// does nothing.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	quit, ended := c.quit, c.ended
	c.quit, c.ended = nil, nil
	c.mu.Unlock()
	if quit == nil {
		return nil
	}
	close(quit)
	<-ended
	return nil
}

// shutdown stops postgres p and waits for it to exit.
func (c *Cluster) shutdown(p *process) {
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.log.Warn("could not signal postgres to stop", slog.Any("err", err))
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		c.log.Warn("postgres did not stop within 30s; sending SIGQUIT")
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		<-p.done
	}
	c.log.Info("postgres stopped")
}

// Pid is the postgres process id, or 0 when postgres is not running.
func (c *Cluster) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return 0
	}
	return c.proc.cmd.Process.Pid
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.logPath())
	return lastLines(b, 10)
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte(" | ")))
}
