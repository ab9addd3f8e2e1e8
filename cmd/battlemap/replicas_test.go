package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgcluster"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/migrations"
)

// replicated is a primary cluster with the schema and pgtest's second
// city in it, and a streaming replica of it, both run by this test
// through pgcluster.
type replicated struct {
	primary, standby *pgcluster.Cluster
	pool             *pgxpool.Pool // the primary, as its superuser
}

// startReplicated makes and starts a replicated pair in temporary
// directories. The data is the second city alone: the demo's half-year
// would take most of a minute to load.
func startReplicated(t *testing.T) *replicated {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	primary, err := pgcluster.New(t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	if err := primary.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Stop() })
	owner, err := pgx.Connect(ctx, primary.RoleURL(pgcluster.OwnerRole))
	if err != nil {
		t.Fatal(err)
	}
	err = migrations.Up(ctx, owner)
	owner.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, primary.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	pgtest.AddSecondCity(t, pool)
	standby, err := primary.Standby(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := standby.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Stop() })
	return &replicated{primary: primary, standby: standby, pool: pool}
}

// onStandby runs sql on the standby as its superuser and scans one row.
func (r *replicated) onStandby(t *testing.T, sql string, dest ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, r.standby.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("standby: %s: %v", sql, err)
	}
}

// caughtUp waits until the standby has replayed all the primary has
// written, so that a test's next read finds it current however slowly
// a loaded machine replays.
func (r *replicated) caughtUp(t *testing.T) {
	t.Helper()
	var lsn string
	if err := r.pool.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var done bool
		r.onStandby(t, `SELECT pg_last_wal_replay_lsn() >= '`+lsn+`'::pg_lsn`, &done)
		if done {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("the standby has not replayed up to %s within 10 s", lsn)
		}
	}
}

// readyBody is the part of /readyz these tests read.
type readyBody struct {
	Status           string              `json:"status"`
	Replicas         []geo.ReplicaStatus `json:"replicas"`
	ReplicaFallbacks int64               `json:"replica_fallbacks"`
}

// ready reads /readyz, which must be 200.
func (s *server) ready(t *testing.T) readyBody {
	t.Helper()
	status, _, body := s.answer(t, "/readyz")
	var r readyBody
	if err := json.Unmarshal(body, &r); err != nil || status != http.StatusOK || len(r.Replicas) != 1 {
		t.Fatalf("/readyz: %d %s (%v), want 200 listing one replica", status, body, err)
	}
	return r
}

// awaitReplica polls /readyz until the replica's in_use is want, for up
// to within, and returns the body then.
func (s *server) awaitReplica(t *testing.T, want bool, within time.Duration) readyBody {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := s.ready(t)
		if r.Replicas[0].InUse == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica in_use not %v within %s: %+v; log:\n%s", want, within, r, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches path, which must answer 200, and returns its body.
func (s *server) get(t *testing.T, path string) []byte {
	t.Helper()
	status, _, body := s.answer(t, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return body
}

// TestReadReplicas runs two servers over a primary and a streaming
// replica (--replica-url) and checks the routing of reads: that they go
// to the replica when it is current, that a write is seen by the next
// read through either server while the replica is held back, that a
// replica held back or stopped is taken out of rotation with /readyz
// still 200 and reads answered from the primary, and that it is put back
// by itself once it has caught up.
// exitVillage PATCHes the village at path (a feature of the villages
// collection) to exited, as of its ETag etag, with token, and returns
// the answer's status and body.
func (s *server) exitVillage(t *testing.T, path, etag, token string) (int, []byte) {
	t.Helper()
	patch, _ := http.NewRequest(http.MethodPatch, "http://"+s.addr+path,
		strings.NewReader(`{"properties":{"poverty_status":"exited","exit_year":2016,"poor_households":0,"poor_population":0}}`))
	patch.Header.Set("Content-Type", "application/merge-patch+json")
	patch.Header.Set("If-Match", etag)
	patch.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(patch)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func TestReadReplicas(t *testing.T) {
	r := startReplicated(t)
	ctx := context.Background()
	env := []string{"DATABASE_URL=" + r.primary.RoleURL(pgcluster.AppRole)}
	args := []string{"--log-level", "warn", "--replica-url", r.standby.RoleURL(pgcluster.AppRole), "--replica-max-lag", "1s"}
	a, b := startServer(t, env, args...), startServer(t, env, args...)
	a.waitReady(t, 30*time.Second)
	b.waitReady(t, 30*time.Second)
	if err := account.Add(ctx, r.pool, geo.Actor{Name: "test", All: true}, account.User{Name: "admin", Role: account.Admin}); err != nil {
		t.Fatal(err)
	}
	token, err := account.Create(ctx, r.pool, "admin", account.Token, 0)
	if err != nil {
		t.Fatal(err)
	}
	city := pgtest.SecondCity
	tl := maptile.At(orb.Point{105.25, 26.05}, 12)
	tile := fmt.Sprintf("/tiles/villages/%d/%d/%d.mvt", tl.Z, tl.X, tl.Y)
	item := "/collections/villages/items/" + city.Village
	reads := []string{tile, item, "/api/regions/" + city.County, "/api/search?q=" + "%E6%B5%8B%E8%AF%95", "/collections/villages/items?bbox=105,25.8,105.6,26.2"}

	t.Run("reads go to the replica when it is current", func(t *testing.T) {
		before := a.awaitReplica(t, true, 10*time.Second)
		r.caughtUp(t)
		for _, p := range reads {
			a.get(t, p)
		}
		after := a.ready(t)
		if got := after.Replicas[0].Reads - before.Replicas[0].Reads; got != int64(len(reads)) {
			t.Errorf("replica reads moved by %d over %d reads, want all of them (fallbacks %d → %d)",
				got, len(reads), before.ReplicaFallbacks, after.ReplicaFallbacks)
		}
		var sessions int
		r.onStandby(t, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'battlemap' AND usename = '`+pgcluster.AppRole+`'`, &sessions)
		if sessions == 0 {
			t.Error("no session of the server's role on the standby")
		}
	})

	t.Run("a write is read back while the replica lags", func(t *testing.T) {
		var paused bool
		r.onStandby(t, `SELECT pg_wal_replay_pause() IS NULL`, &paused)
		before := b.ready(t)
		etag := func() string {
			resp, err := http.Get("http://" + a.addr + item)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.Header.Get("ETag")
		}()
		tileBefore := b.get(t, tile)
		if status, body := a.exitVillage(t, item, etag, token); status != http.StatusOK {
			t.Fatalf("PATCH through A: %d %s", status, body)
		}
		for _, s := range []*server{a, b} {
			if got := s.get(t, item); !strings.Contains(string(got), `"exited"`) {
				t.Errorf("read right after the PATCH: %s, want the village exited", got)
			}
		}
		if tileAfter := b.get(t, tile); string(tileAfter) == string(tileBefore) {
			t.Error("B served the tile as it was before the PATCH")
		}
		var onStandby string
		r.onStandby(t, `SELECT poverty_status FROM regions WHERE code = '`+city.Village+`'`, &onStandby)
		if onStandby == "exited" {
			t.Fatal("the paused standby already shows the PATCH: the test proves nothing")
		}
		if after := b.ready(t); after.ReplicaFallbacks <= before.ReplicaFallbacks {
			t.Errorf("replica_fallbacks %d → %d: the reads did not wait for the replica and go to the primary", before.ReplicaFallbacks, after.ReplicaFallbacks)
		}
	})

	t.Run("a replica held back is taken out and put back", func(t *testing.T) {
		out := a.awaitReplica(t, false, 5*time.Second)
		t.Logf("held back: %+v", out.Replicas[0])
		reads := out.Replicas[0].Reads
		a.get(t, "/api/search?q="+city.Village)
		if got := a.ready(t).Replicas[0].Reads; got != reads {
			t.Errorf("a replica out of rotation was given a read (%d → %d)", reads, got)
		}
		var resumed bool
		r.onStandby(t, `SELECT pg_wal_replay_resume() IS NULL`, &resumed)
		a.awaitReplica(t, true, 5*time.Second)
		r.caughtUp(t)
		a.get(t, "/api/search?q="+city.Township)
		if got := a.ready(t).Replicas[0].Reads; got != reads+1 {
			t.Errorf("replica reads %d → %d after it was put back, want one more", reads, got)
		}
	})

	t.Run("a replica stopped is taken out and put back", func(t *testing.T) {
		if err := r.standby.Stop(); err != nil {
			t.Fatal(err)
		}
		// Before the checker notices, a read given to the replica fails
		// there and is made again on the primary.
		for _, p := range []string{"/api/search?q=" + city.County, "/api/regions/" + city.Township} {
			a.get(t, p)
		}
		out := a.awaitReplica(t, false, 5*time.Second)
		t.Logf("stopped: %+v", out.Replicas[0])
		a.get(t, "/api/regions/"+city.City)
		if err := r.standby.Start(ctx); err != nil {
			t.Fatal(err)
		}
		back := a.awaitReplica(t, true, 10*time.Second)
		r.caughtUp(t)
		a.get(t, "/api/search?q="+city.Site)
		if got := a.ready(t).Replicas[0].Reads; got != back.Replicas[0].Reads+1 {
			t.Errorf("replica reads %d → %d after it came back, want one more", back.Replicas[0].Reads, got)
		}
	})
	a.stop(t)
	b.stop(t)
}
