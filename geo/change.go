package geo

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Actor is who makes a change: a user, or a tool such as "battlemap
// import". Change records it in the audit row and sets it for the
// change's transaction as the setting battlemap.actor, where the
// database's own rules and triggers can read it.
type Actor struct {
	// Name names the user or tool; it must not be empty.
	Name string
}

// Audit describes one change to map data for the audit_log row that
// Change appends. Empty strings and nil values are stored as NULL.
type Audit struct {
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

// sqlActor makes the actor known to the database for the rest of the
// transaction only (is_local), so a pooled connection never carries one
// request's user into the next.
const sqlActor = `SELECT set_config('battlemap.actor', $1, true)`

// sqlAudit appends the audit row of a change. The data version it records
// is the one the change's own statements moved to, read in the same
// transaction.
const sqlAudit = `
INSERT INTO audit_log (actor, action, table_name, row_key, county_code, before, after, data_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT version FROM data_version))
RETURNING data_version`

// Change is the one place where a change to map data is committed: the
// importer and the demo loader use it, and so will the live-edit API. In
// one transaction on db (a savepoint when db is a transaction already,
// which its caller then commits) it makes actor known to the database,
// runs fn, and appends a's row to audit_log under actor; it returns the
// data version the change moved to. If fn fails, nothing is written and
// its error comes back as it is, except that a constraint the data breaks
// (a CHECK, foreign key, unique or not-null violation, or a value
// PostgreSQL refuses) becomes an EInvalid error naming the constraint, so
// that bad data that got past validation is still a client's mistake,
// never an internal error. An actor without a name is EInvalid.
func Change(ctx context.Context, db DB, actor Actor, a *Audit, fn func(tx pgx.Tx) error) (version int64, err error) {
	if strings.TrimSpace(actor.Name) == "" {
		return 0, Errorf(EInvalid, "a change needs an actor: who makes it")
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlActor, actor.Name); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, sqlAudit, actor.Name, a.Action, a.Table, nullIfEmpty(a.RowKey),
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
