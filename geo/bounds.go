package geo

import (
	"context"
	"fmt"

	"github.com/paulmach/orb"
)

// sqlCountyBounds is the bounding box of every county's boundary; NULLs
// when there is no county.
const sqlCountyBounds = `
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(boundary) AS e FROM regions WHERE level = 'county') s`

// CountyBounds is the bounding box of all counties, in WGS 84 longitude
// and latitude: the area the map covers. With no county yet (an empty
// database) it returns an ENotFound error.
func CountyBounds(ctx context.Context, db DB) (orb.Bound, error) {
	var minX, minY, maxX, maxY *float64
	if err := db.QueryRow(ctx, sqlCountyBounds).Scan(&minX, &minY, &maxX, &maxY); err != nil {
		return orb.Bound{}, fmt.Errorf("county bounds: %w", err)
	}
	if minX == nil {
		return orb.Bound{}, Errorf(ENotFound, "no county yet: the map covers nothing")
	}
	return orb.Bound{Min: orb.Point{*minX, *minY}, Max: orb.Point{*maxX, *maxY}}, nil
}
