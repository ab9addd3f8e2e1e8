package geo

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Audit describes one change to map data for the audit_log row that
// Change appends. Empty strings and nil values are stored as NULL.
type Audit struct {
	// Actor is who made the change: a user, or a tool such as
	// "battlemap import". It must not be empty.
	Actor string
	// Action is one of audit_log's actions: insert, update, delete or
	// import.
	Action string
	// Table is the table changed.
	Table string
	// RowKey is the changed row's key when the change is to one row.
	RowKey string
	// CountyCode is the county the change belongs to, when it is one.
	CountyCode string
	// Before and After are stored as JSON: the row before and after an
	// edit, or counts for a bulk change. The function given to Change may
	// set them; they are encoded after it returns.
	Before, After any
}

// sqlAudit appends the audit row of a change. The data version it records
// is the one the change's own statements moved to, read in the same
// transaction.
const sqlAudit = `
INSERT INTO audit_log (actor, action, table_name, row_key, county_code, before, after, data_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT version FROM data_version))
RETURNING data_version`

// Change is the one place where a change to map data is committed: the
// importer uses it, and so will the live-edit API. It begins a
// transaction, runs fn in it, appends a's row to audit_log, commits, and
// returns the data version the change moved to. If fn fails, nothing is
// written and its error comes back as it is, except that a constraint the
// data breaks (a CHECK, foreign key, unique or not-null violation, or a
// value PostgreSQL refuses) becomes an EInvalid error naming the
// constraint, so that bad data that got past validation is still a
// client's mistake, never an internal error.
func Change(ctx context.Context, pool *pgxpool.Pool, a *Audit, fn func(tx pgx.Tx) error) (version int64, err error) {
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, sqlAudit, a.Actor, a.Action, a.Table, nullIfEmpty(a.RowKey),
			nullIfEmpty(a.CountyCode), a.Before, a.After).Scan(&version)
	})
	if err != nil {
		return 0, constraintError(err)
	}
	return version, nil
}

// nullIfEmpty stores an empty key as NULL rather than as an empty string.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// constraintError turns a violation of the schema's constraints (SQLSTATE
// class 23) or a refused value (class 22, data exception) into an EInvalid
// error; any other error is returned as it is.
func constraintError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case strings.HasPrefix(pgErr.Code, "23"):
		return Errorf(EInvalid, "the data breaks the constraint %s: %s", pgErr.ConstraintName, pgErr.Message)
	case strings.HasPrefix(pgErr.Code, "22"):
		return Errorf(EInvalid, "the database refused a value: %s", pgErr.Message)
	}
	return err
}
