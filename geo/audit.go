package geo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditQuery selects entries of the audit log; zero fields select all.
type AuditQuery struct {
	// Region keeps the changes to rows that lay in this region (its code)
	// when they were made: the region itself or anything under it.
	Region string
	// Actor keeps the changes made by this user or tool.
	Actor string
	// Since keeps the changes made at or after it.
	Since time.Time
	// Tables keeps the changes to these tables (villages, regions,
	// sites, projects, relocation_assignments, users).
	Tables []string
	// Row keeps the changes to the row with this key (a code; for an
	// assignment, its feature id).
	Row string
	// Before keeps the entries older than this one (its id): the cursor
	// of the next page.
	Before int64
	// Limit is the most entries returned.
	Limit int
}

// AuditEntry is one entry of the audit log: a row changed, or an import's
// summary.
type AuditEntry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Table  string    `json:"table"`
	RowKey *string   `json:"row_key"`
	// Before and After are the fields that changed, old and new (whole
	// rows for an insert or a delete; counts for an import's summary).
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	// DBRole is the database role of the session that made the change.
	DBRole      string `json:"db_role"`
	DataVersion *int64 `json:"data_version"`
}

// sqlAuditLog reads a page of the audit log, newest first. Every filter is
// a parameter, NULL when not given.
const sqlAuditLog = `
SELECT id, at, actor, action, table_name, row_key, before, after, db_role, data_version
FROM audit_log
WHERE ($1::text IS NULL OR lineage @> ARRAY[$1::text])
  AND ($2::text IS NULL OR actor = $2)
  AND ($3::timestamptz IS NULL OR at >= $3)
  AND ($4::text[] IS NULL OR table_name = ANY ($4))
  AND ($5::text IS NULL OR row_key = $5)
  AND ($6::bigint IS NULL OR id < $6)
ORDER BY id DESC
LIMIT $7`

// AuditLog reads the entries q selects, newest first.
func AuditLog(ctx context.Context, db DB, q AuditQuery) ([]AuditEntry, error) {
	var since any
	if !q.Since.IsZero() {
		since = q.Since
	}
	var tables any
	if len(q.Tables) > 0 {
		tables = q.Tables
	}
	var before any
	if q.Before > 0 {
		before = q.Before
	}
	rows, err := db.Query(ctx, sqlAuditLog, nullIfEmpty(q.Region), nullIfEmpty(q.Actor), since, tables,
		nullIfEmpty(q.Row), before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	entries, err := pgx.CollectRows(rows, scanAuditEntry)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return entries, nil
}

// scanAuditEntry scans a row of audit_log's columns as sqlAuditLog reads
// them.
func scanAuditEntry(row pgx.CollectableRow) (AuditEntry, error) {
	var e AuditEntry
	err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Table, &e.RowKey, &e.Before, &e.After, &e.DBRole, &e.DataVersion)
	return e, err
}
