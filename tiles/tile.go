// Package tiles makes Mapbox Vector Tiles of the battle map in PostGIS:
// the layer definitions and their zoom bands, the tile SQL (built once at
// start, z/x/y always bound parameters), the data-version check that
// keeps cached tiles honest, the byte-bounded tile cache, and the style
// and legend that are generated from the same definitions.
package tiles

import (
	"strconv"
	"strings"

	"github.com/paulmach/orb/maptile"

	"github.com/zunyi/battlemap/geo"
)

// MaxZoom is the deepest zoom any layer is served at; beyond it clients
// overzoom the z14 tiles, which carry every feature at full detail.
const MaxZoom = 14

// maxRequestZoom bounds what a request may ask for at all; zooms between
// MaxZoom and this are well formed but not served (404).
const maxRequestZoom = 22

// ParseTile reads the z, x and y path segments of a tile request; y
// carries the extension, which must be ext (for example ".mvt"). It
// returns a geo.EInvalid error naming the bad part: z, x or y not a whole
// number, z above 22, x or y outside 0…2^z−1, or a wrong extension.
func ParseTile(z, x, yext, ext string) (maptile.Tile, error) {
	y, ok := strings.CutSuffix(yext, ext)
	if !ok {
		return maptile.Tile{}, geo.Errorf(geo.EInvalid, "tile %q: the extension must be %s", yext, ext)
	}
	zn, err := parseUint("z", z, maxRequestZoom)
	if err != nil {
		return maptile.Tile{}, err
	}
	limit := uint64(1)<<zn - 1
	xn, err := parseUint("x", x, limit)
	if err != nil {
		return maptile.Tile{}, err
	}
	yn, err := parseUint("y", y, limit)
	if err != nil {
		return maptile.Tile{}, err
	}
	return maptile.New(uint32(xn), uint32(yn), maptile.Zoom(zn)), nil
}

// parseUint accepts only plain decimal digits (no sign, no spaces) up to
// max.
func parseUint(name, s string, max uint64) (uint64, error) {
	if s == "" || len(s) > 10 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, geo.Errorf(geo.EInvalid, "tile %s %q is not a whole number", name, s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > max {
		return 0, geo.Errorf(geo.EInvalid, "tile %s %s is out of range 0…%d", name, s, max)
	}
	return n, nil
}
