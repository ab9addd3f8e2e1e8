package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo/pgcluster"
)

// answer fetches path from the server and returns the status, the
// Retry-After header and the body; a failed request is status 0.
func (s *server) answer(t *testing.T, path string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		return 0, "", nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), body
}

// TestServeSurvivesKilledPostgres is what a client sees when the private
// cluster's postmaster is killed with SIGKILL under a running server:
// within 10 s only correct answers or 503s with Retry-After, never a 500;
// the cluster comes back by itself and the same answers follow. It also
// checks who the server runs as: its sessions use a role that is no
// superuser, and, started as root, the process no longer is root.
func TestServeSurvivesKilledPostgres(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var")
	s := startServer(t, nil, "--data-dir", dir, "--seed-demo")
	// The first start loads the demo with its half-year, as in
	// TestServeEmbeddedCluster (see its allowance).
	s.waitReady(t, 3*time.Minute)
	// A tile of the whole city (cached once asked) and a drill-down step.
	paths := []string{"/tiles/battlemap/5/25/13.mvt", "/api/regions/520300"}
	want := map[string][]byte{}
	for _, p := range paths {
		status, _, body := s.answer(t, p)
		if status != http.StatusOK {
			t.Fatalf("GET %s: status %d, want 200", p, status)
		}
		want[p] = body
	}

	t.Run("role", func(t *testing.T) {
		checkServerRole(t, dir)
	})
	t.Run("effective user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("started as a user already: nothing to drop")
		}
		uid := effectiveUID(t, s.cmd.Process.Pid)
		if uid == 0 {
			t.Errorf("battlemap serve runs with effective uid 0 after the cluster is up; want an unprivileged user")
		}
	})

	pids := postgresPids(t, dir)
	if len(pids) != 1 {
		t.Fatalf("postmasters under %s: %v, want one", dir, pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		for _, p := range append([]string{"/readyz"}, paths...) {
			status, retry, body := s.answer(t, p)
			seen[status]++
			switch {
			case status == http.StatusServiceUnavailable:
				if n, err := strconv.Atoi(retry); err != nil || n <= 0 {
					t.Errorf("GET %s: 503 with Retry-After %q, want a number of seconds", p, retry)
				}
			case status == http.StatusOK && p != "/readyz":
				if string(body) != string(want[p]) {
					t.Errorf("GET %s: 200 with other bytes than before the kill", p)
				}
			case status != http.StatusOK:
				t.Errorf("GET %s: status %d while postgres restarts, want 200 or 503; body %s", p, status, body)
			}
		}
	}
	t.Logf("answers within 10 s of the kill, by status: %v", seen)
	if seen[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no 503 after postgres was killed: did the kill land?")
	}
	s.waitReady(t, 30*time.Second)
	for _, p := range paths {
		if status, _, body := s.answer(t, p); status != http.StatusOK || string(body) != string(want[p]) {
			t.Errorf("GET %s after the restart: status %d, same bytes %v; want 200 and the same answer", p, status, string(body) == string(want[p]))
		}
	}
	if !strings.Contains(s.log.String(), "postgres restarted") {
		t.Errorf("the log does not tell of the restart:\n%s", s.log)
	}
	s.stop(t)
	if pids := postgresPids(t, dir); len(pids) > 0 {
		t.Fatalf("postgres still running after serve exited: %v", pids)
	}
}

// checkServerRole reads, as the cluster's superuser, which roles the
// server's own sessions (application_name battlemap) run as: each must
// be pgcluster.AppRole, and no superuser.
func checkServerRole(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command(binary(t), "dburl", "--data-dir", dir).Output()
	if err != nil {
		t.Fatalf("dburl: %v", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT DISTINCT r.rolname, r.rolsuper FROM pg_stat_activity a
		JOIN pg_roles r ON r.oid = a.usesysid WHERE a.application_name = 'battlemap'`)
	if err != nil {
		t.Fatal(err)
	}
	type role struct {
		Name  string
		Super bool
	}
	roles, err := pgx.CollectRows(rows, pgx.RowToStructByPos[role])
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) == 0 {
		t.Fatal("no session of the server found in pg_stat_activity")
	}
	for _, r := range roles {
		if r.Name != pgcluster.AppRole || r.Super {
			t.Errorf("the server has a session as %s (rolsuper %v); want only %s, no superuser", r.Name, r.Super, pgcluster.AppRole)
		}
	}
}

// effectiveUID reads the effective uid of process pid (the second field
// of the Uid line of /proc/pid/status).
func effectiveUID(t *testing.T, pid int) int {
	t.Helper()
	f := procStatus(t, pid, "Uid")
	if len(f) < 2 {
		t.Fatalf("Uid %q: want real, effective, saved and file-system uids", f)
	}
	uid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("Uid %q: %v", f, err)
	}
	return uid
}
