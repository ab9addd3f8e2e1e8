package pgtest

import (
	"context"
	"testing"

	"github.com/zunyi/battlemap/geo"
)

// sqlApartVillages finds two villages of different counties whose points
// lie in no county's bounding box in common: an edit of one moves other
// counties' versions and rollups than an edit of the other, so that the
// two may be written at the same time.
const sqlApartVillages = `
WITH v AS (
    SELECT x.code, x.county_code, array_agg(c.code) AS boxes
    FROM villages x
    JOIN regions g ON g.code = x.code
    JOIN county_versions c ON ST_MakeEnvelope(c.min_lon, c.min_lat, c.max_lon, c.max_lat, 4326) && g.point
    GROUP BY x.code, x.county_code
)
SELECT a.code, b.code FROM v a JOIN v b ON a.county_code < b.county_code AND NOT a.boxes && b.boxes
ORDER BY a.code, b.code
LIMIT 1`

// ApartVillages returns two villages of db that edits can change at the
// same time without waiting for each other (sqlApartVillages).
func ApartVillages(t testing.TB, db geo.DB) (a, b string) {
	t.Helper()
	if err := db.QueryRow(context.Background(), sqlApartVillages).Scan(&a, &b); err != nil {
		t.Fatalf("two villages apart: %v", err)
	}
	return a, b
}
