package importer_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/importer"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestBulkRegions loads regions as the command line does (Bulk on a
// pool, where the checks of a file that holds its parents run on a
// connection of their own while the load writes): first a file whose
// province is drawn far from the city it holds, which is rejected with
// the reason, nothing of it written, although the load's writes had run
// beside the checks; then the country and the province, each after the
// region it holds, which load.
func TestBulkRegions(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	im := importer.New(importer.Config{}, slog.New(slog.DiscardHandler))
	actor := geo.Actor{Name: "test bulk", All: true}
	zunyi := map[string]any{"code": "520300", "name": "遵义市", "level": "city", "parent_code": "520000", "poverty_status": "none", "demonstration": false}
	city := regionFeature(zunyi, boundaryOf(t, pool, "520300"))
	above := func() (n int64, parent string) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM regions WHERE level IN ('country', 'province')),
			(SELECT coalesce(parent_code, '') FROM regions WHERE code = '520300')`).Scan(&n, &parent); err != nil {
			t.Fatal(err)
		}
		return n, parent
	}

	far := collection(city, regionFeature(province, box(120, 40, 121, 41)), regionFeature(country, box(73, 18, 135, 54)))
	rep, err := im.Bulk(ctx, pool, actor, "regions", importer.GeoJSON, bytes.NewReader(far), 0)
	var ge *geo.Error
	if !errors.As(err, &ge) || ge.Code != geo.EInvalid || rep == nil {
		t.Fatalf("a province far from its city: %v, want the file rejected", err)
	}
	if len(rep.Rejected) != 1 || rep.Rejected[0].Code != "520300" || rep.Rejected[0].Field != "geometry" ||
		!strings.Contains(rep.Rejected[0].Reason, "lies outside province 520000") {
		t.Errorf("rejected %+v, want 520300's geometry, outside province 520000", rep.Rejected)
	}
	if n, parent := above(); n != 0 || parent != "" {
		t.Errorf("after the rejected load: %d regions above the city, its parent %q; want none written", n, parent)
	}

	good := collection(city, regionFeature(province, box(103.5, 24.5, 109.6, 29.3)), regionFeature(country, box(73, 18, 135, 54)))
	rep, err = im.Bulk(ctx, pool, actor, "regions", importer.GeoJSON, bytes.NewReader(good), 0)
	if err != nil {
		t.Fatalf("the country and the province: %v", err)
	}
	if rep.Inserted != 2 || rep.Updated != 1 {
		t.Errorf("inserted %d, updated %d; want the country and the province, and the city", rep.Inserted, rep.Updated)
	}
	if n, parent := above(); n != 2 || parent != "520000" {
		t.Errorf("after the load: %d regions above the city, its parent %q; want 2 and 520000", n, parent)
	}
}
