package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/web"
)

// sseEvent is one event of a stream, or a comment (a heartbeat).
type sseEvent struct {
	id      int64
	data    map[string]any
	comment bool
}

// stream is an open GET /api/events.
type stream struct {
	resp   *http.Response
	events chan sseEvent
}

// openStream opens the event stream of base, resuming after last when
// it is not "".
func openStream(t *testing.T, base, last string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/events", nil)
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{resp: resp, events: make(chan sseEvent, 100)}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != 200 {
		return s
	}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.id != 0 || e.comment {
					s.events <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(line, ":"):
				e.comment = true
			case strings.HasPrefix(line, "id: "):
				e.id, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &e.data)
			}
		}
	}()
	return s
}

// next is the stream's next event that is no heartbeat, within wait.
func (s *stream) next(t *testing.T, wait time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if !e.comment {
				return e
			}
		case <-deadline:
			t.Fatalf("no event within %s", wait)
		}
	}
}

// TestEventsFollowChanges: a change made straight in SQL reaches an open
// stream within two seconds, with its layer, feature and regions; a
// stream resumed with Last-Event-ID on another instance, started after
// the first stopped, gets the changes it missed first; heartbeats come
// while nothing changes; streams past the bound are 503.
func TestEventsFollowChanges(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	var village, county string
	if err := pool.QueryRow(ctx, `SELECT code, county_code FROM villages ORDER BY code LIMIT 1`).Scan(&village, &county); err != nil {
		t.Fatal(err)
	}
	a := serverOver(t, pgtest.AsApp(t, pool), web.Config{EventHeartbeat: 200 * time.Millisecond, MaxEventStreams: 2})
	base := "http://" + serve(t, a)
	s := openStream(t, base, "")
	if s.resp.StatusCode != 200 || s.resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("GET /api/events: %d %s", s.resp.StatusCode, s.resp.Header.Get("Content-Type"))
	}
	// A heartbeat first: nothing has changed yet.
	select {
	case e := <-s.events:
		if !e.comment {
			t.Fatalf("first event %+v, want a heartbeat", e)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no heartbeat within 2 s")
	}
	start := time.Now()
	if _, err := pool.Exec(ctx, `UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`, village); err != nil {
		t.Fatal(err)
	}
	e := s.next(t, 2*time.Second)
	t.Logf("commit → event: %s", time.Since(start))
	if e.data["layer"] != "villages" || e.data["feature"] != village {
		t.Errorf("event %v, want layer villages, feature %s", e.data, village)
	}
	if regions, _ := e.data["regions"].([]any); len(regions) == 0 || !strings.Contains(strings.Join(strs(regions), ","), county) {
		t.Errorf("event regions %v, want the lineage through county %s", e.data["regions"], county)
	}

	if b := openStream(t, base, ""); b.resp.StatusCode != 200 {
		t.Fatalf("a second stream: %d", b.resp.StatusCode)
	}
	if c := openStream(t, base, ""); c.resp.StatusCode != 503 || c.resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third stream past the bound of 2: %d, want 503 with Retry-After", c.resp.StatusCode)
	}
	if bad := openStream(t, base, "yesterday"); bad.resp.StatusCode != 400 {
		t.Errorf("Last-Event-ID yesterday: %d, want 400", bad.resp.StatusCode)
	}

	// Instance A stops; two changes commit while no instance runs; B
	// starts, and a client resuming from the last id it saw gets both.
	shut, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Shutdown(shut); err != nil {
		t.Fatalf("shutdown with streams open: %v", err)
	}
	for _, sql := range []string{
		`UPDATE villages SET cooperatives = cooperatives + 1 WHERE code = $1`,
		`UPDATE regions SET name = name || '（改）' WHERE code = $1`,
	} {
		if _, err := pool.Exec(ctx, sql, village); err != nil {
			t.Fatal(err)
		}
	}
	b := "http://" + serve(t, serverOver(t, pgtest.AsApp(t, pool), web.Config{}))
	r := openStream(t, b, strconv.FormatInt(e.id, 10))
	first, second := r.next(t, 2*time.Second), r.next(t, 2*time.Second)
	if first.id <= e.id || second.id <= first.id || first.data["layer"] != "villages" || second.data["layer"] != "villages" {
		t.Errorf("resumed after %d: events %d %v and %d %v, want the two missed changes of village %s in order",
			e.id, first.id, first.data, second.id, second.data, village)
	}
}

// strs is a JSON array of strings as strings.
func strs(a []any) []string {
	out := make([]string, len(a))
	for i, v := range a {
		out[i], _ = v.(string)
	}
	return out
}
