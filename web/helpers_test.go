package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/web"
)

// fetchJSON GETs path with the header pairs given, checks the status and
// the media type, and decodes the JSON body.
func fetchJSON(t *testing.T, s *web.Server, path string, status int, mediaType string, header ...string) map[string]any {
	t.Helper()
	headers := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		headers[header[i]] = header[i+1]
	}
	resp, body := do(t, s, path, headers)
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d; body %s", path, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != mediaType {
		t.Fatalf("GET %s: Content-Type %q, want %q", path, ct, mediaType)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("GET %s: body is not JSON: %v", path, err)
	}
	return v
}

// tokenFor makes a user of role (a county user of counties) in pool's
// database and returns an API token of theirs, for requests that need a
// signed-in user.
func tokenFor(t *testing.T, pool *pgxpool.Pool, name string, role account.Role, counties ...string) string {
	t.Helper()
	ctx := context.Background()
	if err := account.Add(ctx, pool, geo.Actor{Name: "test", All: true}, account.User{Name: name, Role: role, Counties: counties}); err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	tok, err := account.Create(ctx, pool, name, account.Token, 0)
	if err != nil {
		t.Fatalf("token of %s: %v", name, err)
	}
	return tok
}

// adminToken is tokenFor an admin named admin.
func adminToken(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	return tokenFor(t, pool, "admin", account.Admin)
}

// getOK asks s for path, which must answer 200, and decodes its JSON
// answer as a T.
func getOK[T any](t *testing.T, s *web.Server, path string) T {
	t.Helper()
	resp, body := do(t, s, path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// count runs a query of one integer (a count or a sum) as ground truth.
func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// number is a JSON number as int64, failing the test for anything else.
func number(t *testing.T, v any, what string) int64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%s = %v (%T), want a number", what, v, v)
	}
	return int64(f)
}
