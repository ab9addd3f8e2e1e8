package tiles

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
)

// Config holds the tile service's settings.
type Config struct {
	// Attribution is shown by map clients for the data.
	Attribution string
	// Past is the pool that makes tiles as of a past moment (made by
	// geo.PastConfig from the tile pool's configuration); nil makes one
	// from the tile pool's, which opens no connection until one is asked.
	Past *pgxpool.Pool
}

// Service makes tiles in PostGIS. It keeps none: the web server's answer
// cache keeps tiles as it keeps every other answer, on the data version.
type Service struct {
	cfg   Config
	reads geo.Reads
	sets  map[string]*Tileset
}

// NewService builds every tileset's SQL, to run on pool (and cfg.Past for
// tiles of the past).
func NewService(cfg Config, pool *pgxpool.Pool) *Service {
	if cfg.Past == nil {
		cfg.Past = geo.OpenPast(pool)
	}
	return &Service{cfg: cfg, reads: geo.Reads{Now: pool, Past: cfg.Past}, sets: Tilesets()}
}

// Warm makes PostgreSQL plan the composite tileset's statement of every
// zoom on conns of the pool's connections, before the first request: a
// statement of a dozen layers takes some 10–20 ms to plan, which the
// first tile of each zoom on each connection would otherwise pay (the
// plan is kept per connection: SessionParams). Each zoom's statement runs
// once, for the tile at the world's north-west corner.
func (s *Service) Warm(ctx context.Context, conns int) error {
	ts := s.sets[CompositeName]
	err := geo.OnConns(ctx, s.reads.Now, conns, func(c *pgxpool.Conn) error {
		for z := ts.MinZoom(); z <= ts.MaxZoom(); z++ {
			var data []byte
			args := append([]any{int32(z), int32(0), int32(0)}, ts.Args()...)
			if err := c.QueryRow(ctx, ts.Query(z), args...).Scan(&data); err != nil {
				return fmt.Errorf("zoom %d: %w", z, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tiles: warm: %w", err)
	}
	return nil
}

// Tileset returns the tileset called name, or a geo.ENotFound error that
// lists the names there are.
func (s *Service) Tileset(name string) (*Tileset, error) {
	ts, ok := s.sets[name]
	if !ok {
		names := make([]string, 0, len(s.sets))
		for n := range s.sets {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, geo.Errorf(geo.ENotFound, "no tile layer %q; there are: %s", name, strings.Join(names, ", "))
	}
	return ts, nil
}

// tileset is Tileset, and when at is not nil an EInvalid error for a
// tileset that is not drawn as of the past.
func (s *Service) tileset(name string, at *time.Time) (*Tileset, error) {
	ts, err := s.Tileset(name)
	if err == nil && at != nil && !ts.past {
		return nil, geo.Errorf(geo.EInvalid, "tile layer %s is an analysis of today's data: it is not drawn as of a past moment", name)
	}
	return ts, err
}

// PastPath is the path under which the tiles of tileset name as of moment
// are served, before /{z}/{x}/{y}.mvt: a path segment, not a query, so
// that each moment's tiles are cached as any tile is.
func PastPath(name, moment string) string {
	return "/tiles/" + name + "/at/" + moment
}

// Tile returns tile t of the tileset called name as MVT bytes, empty when
// no feature falls in the tile; as of a past moment when at is not nil
// (the same SQL, on the pool that reads the past: geo.PastConfig). Above the tileset's maximum zoom it
// returns a geo.ENotFound error (clients overzoom the deepest tiles);
// below its minimum zoom, an empty tile.
func (s *Service) Tile(ctx context.Context, name string, t maptile.Tile, at *time.Time) ([]byte, error) {
	ts, err := s.tileset(name, at)
	if err != nil {
		return nil, err
	}
	z := int(t.Z)
	if z > ts.MaxZoom() {
		return nil, geo.Errorf(geo.ENotFound, "layer %s is served up to zoom %d; beyond it, overzoom the zoom-%d tiles", name, ts.MaxZoom(), ts.MaxZoom())
	}
	query := ts.Query(z)
	if query == "" {
		return nil, nil
	}
	var data []byte
	args := append([]any{int32(z), int32(t.X), int32(t.Y)}, ts.Args()...)
	ctx, db := s.reads.At(ctx, at)
	if err := db.QueryRow(ctx, query, args...).Scan(&data); err != nil {
		return nil, fmt.Errorf("tiles: %s %d/%d/%d: %w", name, z, t.X, t.Y, err)
	}
	return data, nil
}

// TileJSON describes a tileset (TileJSON 3.0.0).
type TileJSON struct {
	TileJSON     string        `json:"tilejson"`
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	Version      string        `json:"version"`
	Attribution  string        `json:"attribution,omitempty"`
	Scheme       string        `json:"scheme"`
	Tiles        []string      `json:"tiles"`
	MinZoom      int           `json:"minzoom"`
	MaxZoom      int           `json:"maxzoom"`
	Bounds       [4]float64    `json:"bounds"`
	Center       [3]float64    `json:"center"`
	VectorLayers []VectorLayer `json:"vector_layers"`
}

// VectorLayer is one layer in a TileJSON.
type VectorLayer struct {
	ID          string            `json:"id"`
	Description string            `json:"description"`
	MinZoom     int               `json:"minzoom"`
	MaxZoom     int               `json:"maxzoom"`
	Fields      map[string]string `json:"fields"`
}

// TileJSON describes the tileset called name, with tile URLs under
// baseURL (scheme and host, no trailing slash): the map of today, or the
// map as of at when it is not nil. Bounds are those of the data; with no
// data, the whole Web Mercator world.
func (s *Service) TileJSON(ctx context.Context, name, baseURL string, at *time.Time) (*TileJSON, error) {
	ts, err := s.tileset(name, at)
	if err != nil {
		return nil, err
	}
	tiles, description := baseURL+"/tiles/"+ts.Name+"/{z}/{x}/{y}.mvt", ts.Description
	switch {
	case at != nil:
		tiles = baseURL + PastPath(ts.Name, geo.FormatMoment(*at)) + "/{z}/{x}/{y}.mvt"
		description += "; as of " + geo.FormatMoment(*at)
	case ts.past:
		description += "; as of a past day or moment: " + PastPath(ts.Name, "{YYYY-MM-DD or RFC 3339}") + "/{z}/{x}/{y}.mvt, described by this document with ?at="
	}
	tj := &TileJSON{
		TileJSON: "3.0.0", Name: ts.Name, Description: description, Version: "1.0.0",
		Attribution: s.cfg.Attribution, Scheme: "xyz",
		Tiles:   []string{tiles},
		MinZoom: ts.MinZoom(), MaxZoom: ts.MaxZoom(),
		Bounds: [4]float64{-180, -85.0511, 180, 85.0511},
	}
	switch b, err := geo.CountyBounds(ctx, s.reads.Now); {
	case err == nil:
		for i, v := range []float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]} {
			tj.Bounds[i] = math.Round(v*1e4) / 1e4
		}
	case geo.ErrorCode(err) != geo.ENotFound:
		return nil, fmt.Errorf("tiles: %w", err)
	}
	tj.Center = [3]float64{
		math.Round((tj.Bounds[0]+tj.Bounds[2])/2*1e4) / 1e4,
		math.Round((tj.Bounds[1]+tj.Bounds[3])/2*1e4) / 1e4,
		float64(max(tj.MinZoom, 8)),
	}
	for _, l := range ts.Layers {
		vl := VectorLayer{ID: l.Name, Description: l.Description, MinZoom: l.MinZoom, MaxZoom: l.MaxZoom, Fields: map[string]string{}}
		for _, f := range l.Fields {
			vl.Fields[f.Name] = f.Type
		}
		tj.VectorLayers = append(tj.VectorLayers, vl)
	}
	return tj, nil
}

// SessionParams are the settings of the connections that make tiles, on
// top of geo.SessionParams; give them a pool of their own.
//
// plan_cache_mode: a tile's statement is large and its parameters (z, x,
// y) do not change which plan is best, yet with custom plans PostgreSQL
// re-plans it at every execution, which costs more than a small tile takes
// to make. A generic plan is made once per connection. Other queries keep
// custom plans: their optional filters ($n IS NULL OR …) would lose their
// indexes under a generic plan.
func SessionParams() map[string]string {
	return map[string]string{"plan_cache_mode": "force_generic_plan"}
}
