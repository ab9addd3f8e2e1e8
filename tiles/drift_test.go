package tiles_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
	"github.com/zunyi/battlemap/tiles"
)

// TestTilesAgreeWithCollections holds each layer drawn from a collection
// to that collection: every feature of real tiles, at each band of the
// layer, carries the collection's properties of the same feature (its
// GeoJSON, read with geo.Item), the same values under the same names, and
// nothing else but the attributes the layer declares as its own. Summary
// points stand for no feature and are left out.
func TestTilesAgreeWithCollections(t *testing.T) {
	pool := pgtest.New(t)
	// A province above the city, for the layers of the lowest zooms.
	pgtest.AddProvince(t, pool)
	svc := tiles.NewService(tiles.Config{}, pool)
	var decoded []*mvt.Layer
	// The city centre at a zoom of every band, a county border, and a
	// project's start where projects are drawn one by one.
	project := featureTile(t, pool, `SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) FROM projects WHERE GeometryType(geom) = 'LINESTRING' ORDER BY code LIMIT 1`, 12)
	// And a feature of each factor layer.
	hazard := featureTile(t, pool, `SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM hazard_zones ORDER BY code LIMIT 1`, 11)
	road := featureTile(t, pool, `SELECT ST_X(ST_StartPoint(ST_GeometryN(geom, 1))), ST_Y(ST_StartPoint(ST_GeometryN(geom, 1))) FROM roads ORDER BY code LIMIT 1`, 9)
	service := featureTile(t, pool, `SELECT ST_X(geom), ST_Y(geom) FROM services ORDER BY code LIMIT 1`, 13)
	// And a flag that holds.
	flag := featureTile(t, pool, `SELECT ST_X(geom), ST_Y(geom) FROM flags WHERE cleared_at IS NULL ORDER BY id LIMIT 1`, 12)
	for _, tile := range []maptile.Tile{at(106.93, 27.72, 3), at(106.93, 27.72, 5), at(106.93, 27.72, 6), at(106.93, 27.72, 8), at(106.93, 27.72, 10),
		at(106.93, 27.72, 12), borderTile(t, pool), project, hazard, road, service, flag} {
		_, layers := fetch(t, svc, tiles.CompositeName, tile)
		decoded = append(decoded, valuesOf(layers)...)
	}
	for _, l := range tiles.Layers {
		if l.Collection == nil {
			continue
		}
		t.Run(l.Name, func(t *testing.T) {
			own := map[string]bool{}
			for _, f := range l.Fields {
				own[f.Name] = !slices.ContainsFunc(l.Collection.Columns, func(c geo.Column) bool { return c.Name == f.Name })
			}
			compared := 0
			for _, dl := range decoded {
				if dl.Name != l.Name {
					continue
				}
				for _, f := range dl.Features {
					if f.Properties["cluster"] == true {
						continue
					}
					// A feature's key is its code; a flag's, its id.
					code, ok := f.Properties["code"].(string)
					if !ok {
						code, _ = f.Properties["id"].(string)
					}
					want := itemProperties(t, pool, l.Collection, code)
					if want == nil {
						continue
					}
					compared++
					if f.ID != nil && f.ID != mustFloat(t, code) {
						t.Errorf("%s: feature id %v, want its code", code, f.ID)
					}
					for name, got := range f.Properties {
						w, ok := want[name]
						switch {
						case !ok && !own[name]:
							t.Errorf("%s: attribute %s is neither a property of %s nor declared by the layer", code, name, l.Collection.ID)
						case ok && !sameValue(got, w):
							t.Errorf("%s: %s = %v (%T) in the tile, %v (%T) in %s", code, name, got, got, w, w, l.Collection.ID)
						}
					}
					for name, w := range want {
						// MVT has no null: a null property is an absent attribute.
						if _, ok := f.Properties[name]; !ok && w != nil {
							t.Errorf("%s: property %s = %v of %s is missing from the tile", code, name, w, l.Collection.ID)
						}
					}
				}
			}
			if compared == 0 {
				t.Errorf("no feature of layer %s in the tiles: the test compares nothing", l.Name)
			}
		})
	}
}

// itemProperties are the properties of c's feature code, as its GeoJSON
// has them; nil, after reporting the error, when it cannot be read.
func itemProperties(t *testing.T, pool *pgxpool.Pool, c *geo.Collection, code string) map[string]any {
	t.Helper()
	item, err := geo.Item(context.Background(), pool, c, code, geo.GeoJSON)
	if err != nil {
		t.Errorf("tile feature %q of %s: %v", code, c.ID, err)
		return nil
	}
	var f struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(item, &f); err != nil {
		t.Fatalf("%s %s: %v", c.ID, code, err)
	}
	return f.Properties
}

// sameValue says whether tile attribute got holds property want; both
// are strings, booleans or float64s, as orb decodes MVT values and
// encoding/json JSON ones. Numbers compare within a relative 1e-6: a
// PostgreSQL real travels in a tile as a 32-bit float.
func sameValue(got, want any) bool {
	g, ok1 := got.(float64)
	w, ok2 := want.(float64)
	if !ok1 || !ok2 {
		return got == want
	}
	return math.Abs(g-w) <= 1e-6*math.Max(1, math.Abs(w))
}

// mustFloat is a statistical code as a number, as MVT ids are decoded.
func mustFloat(t *testing.T, code string) float64 {
	t.Helper()
	n, err := strconv.ParseUint(code, 10, 64)
	if err != nil {
		t.Fatalf("code %q is not a number: %v", code, err)
	}
	return float64(n)
}
