package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// binary builds battlemap once for the tests that run it as a user would.
var binary = func() func(t *testing.T) string {
	var path string
	var err error
	built := false
	return func(t *testing.T) string {
		t.Helper()
		if !built {
			built = true
			dir, e := os.MkdirTemp("", "battlemap-bin-")
			if e != nil {
				err = e
			} else {
				path = filepath.Join(dir, "battlemap")
				out, e := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
				if e != nil {
					err = fmt.Errorf("%v: %s", e, out)
				}
			}
		}
		if err != nil {
			t.Fatalf("go build: %v", err)
		}
		return path
	}
}()

// TestConfigErrors checks that every bad setting ends the process with
// status 2 and one line that names the flag or variable.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"address without port", []string{"serve", "--addr", "localhost"}, nil, "--addr"},
		{"address from the environment", []string{"serve"}, []string{"BATTLEMAP_ADDR=nowhere"}, "--addr"},
		{"duration that does not parse", []string{"serve", "--request-timeout", "soon"}, nil, "-request-timeout"},
		{"duration from the environment", []string{"serve"}, []string{"BATTLEMAP_REQUEST_TIMEOUT=soon"}, "BATTLEMAP_REQUEST_TIMEOUT"},
		{"zero timeout", []string{"serve", "--statement-timeout", "0s"}, nil, "--statement-timeout"},
		{"unknown flag", []string{"serve", "--colour", "red"}, nil, "-colour"},
		{"unknown command", []string{"conquer"}, nil, "unknown command"},
		{"empty data dir", []string{"dburl", "--data-dir", " "}, nil, "--data-dir"},
		{"bad log level", []string{"serve", "--log-level", "loud"}, nil, "-log-level"},
		{"bad log format", []string{"serve", "--log-format", "xml"}, nil, "--log-format"},
		{"database URL that does not parse", []string{"serve"}, []string{"DATABASE_URL=postgres://%zz"}, "DATABASE_URL"},
		{"exec without a command", []string{"exec"}, nil, "exec needs a command"},
		{"negative API cache", []string{"serve", "--api-cache-bytes", "-1"}, nil, "--api-cache-bytes"},
		{"unknown version check", []string{"serve"}, []string{"BATTLEMAP_VERSION_CHECK=psychic"}, "--version-check"},
		{"trusted proxy that is no address", []string{"serve", "--trusted-proxy", "10.0.0.0/8,proxy.local"}, nil, "--trusted-proxy"},
		{"trusted proxy from the environment", []string{"serve"}, []string{"BATTLEMAP_TRUSTED_PROXY=10.0.0.300"}, "--trusted-proxy"},
		{"replica URL that does not parse", []string{"serve", "--replica-url", "postgres://%zz"}, nil, "--replica-url"},
		{"replica URL from the environment", []string{"serve"}, []string{"BATTLEMAP_REPLICA_URL=postgres://a/b,postgres://%zz"}, "BATTLEMAP_REPLICA_URL"},
		{"zero replica lag", []string{"serve", "--replica-max-lag", "0s"}, nil, "--replica-max-lag"},
		{"negative replica wait", []string{"serve", "--replica-wait", "-1ms"}, nil, "--replica-wait"},
		{"root that is no region's code", []string{"serve", "--root", "Zunyi"}, nil, "--root"},
		{"root from the environment", []string{"serve"}, []string{"BATTLEMAP_ROOT=52030"}, "--root"},
	}
	bin := binary(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(cleanEnv(), tt.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := -1
			if xerr, ok := err.(*exec.ExitError); ok {
				code = xerr.ExitCode()
			}
			msg := strings.TrimSpace(stderr.String())
			if code != 2 {
				t.Errorf("exit status %d, want 2 (stderr %q)", code, msg)
			}
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tt.want) {
				t.Errorf("stderr %q: want one line mentioning %q", msg, tt.want)
			}
		})
	}
}

// cleanEnv is the environment without battlemap's own variables, so the
// tests see only what they set.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BATTLEMAP_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return env
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// server is a running battlemap serve process.
type server struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
}

func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), append([]string{"serve", "--addr", addr}, args...)...)
	cmd.Env = append(cleanEnv(), env...)
	s := &server{cmd: cmd, addr: addr, log: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return s
}

// waitReady polls /readyz until 200 or the deadline, and returns its body.
func (s *server) waitReady(t *testing.T, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return body
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("/readyz not 200 within %s; log:\n%s", within, s.log)
	return nil
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v; log:\n%s", err, s.log)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not exit within 60s of SIGTERM; log:\n%s", s.log)
	}
}

// postgresPids lists running postgres postmasters whose data directory
// is under dir.
func postgresPids(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && strings.HasSuffix(args[0], "/postgres") && strings.Contains(string(b), dir) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestServeEmbeddedCluster is the first-run story: serve with no
// DATABASE_URL creates its private cluster, loads the demo data, answers
// /readyz within 3 minutes, leaves no postgres behind on SIGTERM, and a
// second start reuses the data. (The demo load writes its half-year day
// by day: 40–50 s alone on two cores, over a minute beside the other
// test packages.)
func TestServeEmbeddedCluster(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var")
	s := startServer(t, nil, "--data-dir", dir, "--seed-demo")
	body := s.waitReady(t, 3*time.Minute)
	if body["status"] != "ready" {
		t.Errorf("readyz body %v, want status ready", body)
	}
	resp, err := http.Get("http://" + s.addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	s.stop(t)
	if pids := postgresPids(t, dir); len(pids) > 0 {
		t.Fatalf("postgres still running after serve exited: %v", pids)
	}
	if !strings.Contains(s.log.String(), "loaded the Zunyi demo data") {
		t.Errorf("first start did not load the demo data; log:\n%s", s.log)
	}

	s2 := startServer(t, nil, "--data-dir", dir, "--seed-demo")
	s2.waitReady(t, 60*time.Second)
	s2.stop(t)
	if !strings.Contains(s2.log.String(), "already holds map data") {
		t.Errorf("second start did not reuse the data; log:\n%s", s2.log)
	}
	if pids := postgresPids(t, dir); len(pids) > 0 {
		t.Fatalf("postgres still running after second serve exited: %v", pids)
	}
}

// TestServeDatabaseURL runs against an existing database and must not
// start a cluster of its own.
func TestServeDatabaseURL(t *testing.T) {
	pool := pgtest.New(t)
	dir := filepath.Join(t.TempDir(), "unused")
	s := startServer(t, []string{"DATABASE_URL=" + pool.Config().ConnString()}, "--data-dir", dir)
	s.waitReady(t, 30*time.Second)
	s.stop(t)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data dir %s was created (%v); with DATABASE_URL no cluster may start", dir, err)
	}
}

// TestDburl prints the URL of the cluster in a data dir without starting
// it.
func TestDburl(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary(t), "dburl", "--data-dir", dir)
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(bytes.NewReader(out)).ReadString('\n')
	if !strings.HasPrefix(line, "postgres://battlemap@/battlemap?host=") || !strings.Contains(line, "5432") {
		t.Errorf("dburl printed %q, want the cluster's postgres:// URL", line)
	}
}

// TestExecStopsOnSignal: SIGTERM to `battlemap exec` ends its command and
// then its cluster, leaving no process behind.
func TestExecStopsOnSignal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var")
	cmd := exec.Command(binary(t), "exec", "--data-dir", dir, "--", "sleep", "300")
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(postgresPids(t, dir)) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if len(postgresPids(t, dir)) == 0 {
		cmd.Process.Kill()
		t.Fatal("the cluster did not start within a minute")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("battlemap exec did not end within 60 s of SIGTERM")
	}
	if pids := postgresPids(t, dir); len(pids) > 0 {
		t.Errorf("postgres still running after exec ended: %v", pids)
	}
}
