package web_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

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
