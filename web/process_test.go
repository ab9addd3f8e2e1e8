package web_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
	"github.com/zunyi/battlemap/web"
)

// A test's second instance is a process of its own: the test binary,
// started again with envServe set, serves the database named in
// envServeDB instead of running tests (TestMain).
const (
	envServe   = "BATTLEMAP_TEST_SERVE"
	envServeDB = "BATTLEMAP_TEST_SERVE_DB"
)

// serveProcess serves dbURL's database on addr, with the caches on, until
// the process is killed, and returns the exit status.
func serveProcess(addr, dbURL string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		log.Error("serve process", slog.Any("err", err))
		return 1
	}
	s := web.New(web.Config{RequestTimeout: 30 * time.Second, BodyLimit: 1 << 20, CacheBytes: 64 << 20, TileCacheBytes: 64 << 20},
		pool, tiles.NewService(tiles.Config{}, pool), log)
	if err := s.Listen(addr); err != nil {
		log.Error("serve process", slog.Any("err", err))
		return 1
	}
	return 0
}

// startProcess starts another process serving pool's database, as the
// server's own role, and returns its base URL once it answers.
func startProcess(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envServe+"="+addr, envServeDB+"="+pgtest.AppURL(t, pool))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return base
		}
	}
	t.Fatalf("the server process on %s did not answer within 30 s", addr)
	return ""
}
