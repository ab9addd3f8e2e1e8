package tiles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/versioned"
)

// Config holds the tile service's settings.
type Config struct {
	// CacheBytes bounds the in-process tile cache; 0 disables it.
	CacheBytes int64
	// Versions tells the cache which data version is current; nil means
	// strict reads from the service's pool.
	Versions *versioned.Versions
	// Attribution is shown by map clients for the data.
	Attribution string
	// Log receives the service's own events; nil means slog.Default().
	Log *slog.Logger
}

// Service makes tiles: from the cache when it holds the tile at the
// current data version, else from PostGIS.
type Service struct {
	cfg      Config
	pool     *pgxpool.Pool
	sets     map[string]*Tileset
	cache    *versioned.Cache
	versions *versioned.Versions
}

// NewService builds every tileset's SQL and the cache.
func NewService(cfg Config, pool *pgxpool.Pool) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Versions == nil {
		cfg.Versions = versioned.NewVersions(pool, cfg.Log)
	}
	return &Service{cfg: cfg, pool: pool, sets: Tilesets(), cache: versioned.NewCache(cfg.CacheBytes), versions: cfg.Versions}
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

// CacheStats reports the tile cache's counters.
func (s *Service) CacheStats() versioned.Stats { return s.cache.Stats() }

// Tile returns tile t of the tileset called name. Above the tileset's
// maximum zoom it returns a geo.ENotFound error (clients overzoom the
// deepest tiles); below its minimum zoom, an empty tile.
//
// The tile is a versioned.Body without headers; its bytes are MVT, empty
// when no feature falls in the tile.
func (s *Service) Tile(ctx context.Context, name string, t maptile.Tile) (*versioned.Body, error) {
	ts, err := s.Tileset(name)
	if err != nil {
		return nil, err
	}
	z := int(t.Z)
	if z > ts.MaxZoom() {
		return nil, geo.Errorf(geo.ENotFound, "layer %s is served up to zoom %d; beyond it, overzoom the zoom-%d tiles", name, ts.MaxZoom(), ts.MaxZoom())
	}
	query := ts.Query(z)
	if query == "" {
		return versioned.NewBody(nil, 0, nil, false), nil
	}
	key := name + "/" + strconv.Itoa(z) + "/" + strconv.FormatUint(uint64(t.X), 10) + "/" + strconv.FormatUint(uint64(t.Y), 10)
	if s.cache != nil {
		version, err := s.versions.Current(ctx)
		if err != nil {
			return nil, err
		}
		if m, ok := s.cache.Get(key, version); ok {
			return m, nil
		}
	}
	var version int64
	var data []byte
	if err := s.pool.QueryRow(ctx, query, int32(z), int32(t.X), int32(t.Y)).Scan(&version, &data); err != nil {
		return nil, fmt.Errorf("tiles: %s: %w", key, err)
	}
	m := versioned.NewBody(data, version, nil, s.cache != nil)
	s.cache.Put(key, m)
	return m, nil
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

// sqlBounds is the extent of all counties, the area the tiles cover.
const sqlBounds = `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(boundary) AS e FROM regions WHERE level = 'county') s WHERE e IS NOT NULL`

// TileJSON describes the tileset called name, with tile URLs under
// baseURL (scheme and host, no trailing slash). Bounds are those of the
// data; with no data, the whole Web Mercator world.
func (s *Service) TileJSON(ctx context.Context, name, baseURL string) (*TileJSON, error) {
	ts, err := s.Tileset(name)
	if err != nil {
		return nil, err
	}
	tj := &TileJSON{
		TileJSON: "3.0.0", Name: ts.Name, Description: ts.Description, Version: "1.0.0",
		Attribution: s.cfg.Attribution, Scheme: "xyz",
		Tiles:   []string{baseURL + "/tiles/" + ts.Name + "/{z}/{x}/{y}.mvt"},
		MinZoom: ts.MinZoom(), MaxZoom: ts.MaxZoom(),
		Bounds: [4]float64{-180, -85.0511, 180, 85.0511},
	}
	var b [4]float64
	switch err := s.pool.QueryRow(ctx, sqlBounds).Scan(&b[0], &b[1], &b[2], &b[3]); {
	case err == nil:
		for i := range b {
			b[i] = math.Round(b[i]*1e4) / 1e4
		}
		tj.Bounds = b
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("tiles: bounds: %w", err)
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
