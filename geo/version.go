package geo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DataVersion is the number that moves whenever map data changes, and
// when it last moved. Tiles and caches key on the number; screens show
// the time.
type DataVersion struct {
	Version   int64     `json:"version"`
	ChangedAt time.Time `json:"changed_at"`
}

// Querier is what reads need of a pool, a connection or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

const sqlDataVersion = `SELECT version, changed_at FROM data_version`

// CurrentVersion reads the data version.
func CurrentVersion(ctx context.Context, db Querier) (DataVersion, error) {
	var v DataVersion
	if err := db.QueryRow(ctx, sqlDataVersion).Scan(&v.Version, &v.ChangedAt); err != nil {
		return v, fmt.Errorf("geo: data version: %w", err)
	}
	return v, nil
}
