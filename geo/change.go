package geo

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Actor is who makes a change: a user, or a tool such as "battlemap
// import", and what they may change. Change sets both for the change's
// transaction, as the settings battlemap.actor (which the audit triggers
// record on every row changed) and battlemap.scope (which the row-level
// security policies of migrations/005_accounts.sql check): the database,
// not the caller, refuses a write outside the scope.
type Actor struct {
	// Name names the user or tool; it must not be empty.
	Name string
	// All lets the actor change the whole data set: admins and the
	// command line's tools.
	All bool
	// Counties are the codes of the counties whose rows the actor may
	// change, when not All; none means nothing.
	Counties []string
}

// Scope is the actor's scope as the database reads it: "*" for All, else
// the county codes joined by commas.
func (a Actor) Scope() string {
	if a.All {
		return "*"
	}
	return strings.Join(a.Counties, ",")
}

// Audit describes a change as a whole, for the summary row that Change
// appends to audit_log beside the rows its triggers write for each row
// changed (an import's counts). Empty strings and nil values are stored
// as NULL.
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

// sqlActor makes the actor and its scope known to the database for the
// rest of the transaction only (is_local), so a pooled connection never
// carries one request's user into the next.
const sqlActor = `SELECT set_config('battlemap.actor', $1, true), set_config('battlemap.scope', $2, true)`

// sqlAudit appends the summary row of a change. The data version it
// records is the one the change's own statements moved to, read in the
// same transaction.
const sqlAudit = `
INSERT INTO audit_log (actor, action, table_name, row_key, county_code, before, after, data_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT version FROM data_version))`

// sqlVersion is the data version a change moved to, read in its
// transaction.
const sqlVersion = `SELECT version FROM data_version`

// Change is the one place where a change to map data is committed: the
// importer, the demo loader and the edits use it. In one transaction on
// db (a savepoint when db is a transaction already, which its caller then
// commits) it makes actor and its scope known to the database, runs fn,
// and, when a is not nil, appends a's summary row to audit_log under
// actor; it returns the data version the change moved to. (The rows fn
// changes are audited one by one by the database's triggers, whatever a
// says.) If fn fails, nothing is written and
// its error comes back as it is, except that a constraint the data breaks
// (a CHECK, foreign key, unique or not-null violation, or a value
// PostgreSQL refuses) becomes an EInvalid error naming the constraint, so
// that bad data that got past validation is still a client's mistake,
// never an internal error. An actor without a name is EInvalid.
//
// A transaction PostgreSQL aborts because of a concurrent one (a
// deadlock, SQLSTATE 40P01, or a serialization failure, 40001) is run
// again from the start, up to maxAttempts times in all, after a short
// random pause: by then the other transaction has usually committed, and
// the same change goes through. So fn may run more than once, each time
// in a fresh transaction where everything the earlier run did has been
// rolled back: it must not keep effects outside tx (or must redo them
// from scratch, as it may set a's Before and After again), and it must
// not depend on having run before. When the last attempt still fails, or
// when db is the caller's transaction (its earlier statements and
// snapshot cannot be replayed here, and the abort has spoilt it for the
// caller anyway), the error is EConflict: the request may succeed if
// sent again.
func Change(ctx context.Context, db DB, actor Actor, a *Audit, fn func(tx pgx.Tx) error) (version int64, err error) {
	if strings.TrimSpace(actor.Name) == "" {
		return 0, Errorf(EInvalid, "a change needs an actor: who makes it")
	}
	for attempt := 1; ; attempt++ {
		version, err = changeOnce(ctx, db, actor, a, fn)
		if err == nil {
			return version, nil
		}
		if !concurrencyFailure(err) {
			return 0, constraintError(err)
		}
		if inTx(db) || attempt == maxAttempts {
			return 0, &conflictError{domain: Errorf(EConflict,
				"the change collided with another one made at the same time and was not made; send it again"), cause: err}
		}
		if err := pause(ctx, attempt); err != nil {
			return 0, err
		}
	}
}

// ReadAs runs fn in a read-only transaction on db that carries actor as
// Change's transactions do, so that it reads what actor may read
// (row-level security): a read beside a change of the same actor's made
// on another connection of the pool.
func ReadAs(ctx context.Context, db DB, actor Actor, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlReadOnly); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlActor, actor.Name, actor.Scope()); err != nil {
			return err
		}
		return fn(tx)
	})
}

// sqlReadOnly makes ReadAs's transaction read only.
const sqlReadOnly = `SET TRANSACTION READ ONLY`

// changeOnce runs Change's transaction once.
func changeOnce(ctx context.Context, db DB, actor Actor, a *Audit, fn func(tx pgx.Tx) error) (version int64, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlActor, actor.Name, actor.Scope()); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		if a != nil {
			if _, err := tx.Exec(ctx, sqlAudit, actor.Name, a.Action, a.Table, nullIfEmpty(a.RowKey),
				nullIfEmpty(a.CountyCode), a.Before, a.After); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, sqlVersion).Scan(&version)
	})
	return version, err
}

// maxAttempts is how many times in all Change runs a transaction aborted
// by a concurrent one. Two imports of the same rows in opposite orders
// deadlock once, and the loser's second run then waits for the winner's
// locks instead; a third covers a third writer. More would only hold a
// request that had better be told to try again.
const maxAttempts = 3

// retryPause is the base of the pause before the n-th run again: a random
// time below n × retryPause, random so that two losers do not collide
// again in step, short because the winner usually commits within it.
const retryPause = 20 * time.Millisecond

// pause waits before the attempt after attempt, or until ctx ends, whose
// error it then returns.
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(attempt) * int64(retryPause))))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// concurrencyFailure reports whether err is PostgreSQL aborting a
// transaction because of a concurrent one: a deadlock (40P01) or a
// serialization failure (40001), which running it again may cure.
func concurrencyFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == sqlstateDeadlock || pgErr.Code == sqlstateSerialization)
}

// The SQLSTATEs of a transaction aborted by a concurrent one.
const (
	sqlstateDeadlock      = "40P01" // deadlock_detected
	sqlstateSerialization = "40001" // serialization_failure
)

// sqlstateRule is the SQLSTATE a rule of the data raises in PostgreSQL
// when it refuses a change (a class of battlemap's own): its message is
// written for clients, its column is the field at fault, its detail the
// facts as JSON (migrations/017_exits.sql).
const sqlstateRule = "BR001"

// sqlstateDenied is insufficient_privilege: a grant, or a row-level
// security policy, refused a statement.
const sqlstateDenied = "42501"

// conflictError is the EConflict error of a change that lost to a
// concurrent one. Its message is the domain error's, safe for a client;
// it unwraps to PostgreSQL's error as well, so that whoever logs it can
// say which conflict it was.
type conflictError struct {
	domain *Error
	cause  error
}

// Error implements error.
func (e *conflictError) Error() string { return e.domain.Message }

// Unwrap returns the domain error and PostgreSQL's.
func (e *conflictError) Unwrap() []error { return []error{e.domain, e.cause} }

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
	case pgErr.Code == sqlstateRule:
		e := &Error{Code: EUnprocessable, Message: pgErr.Message,
			Fields: []FieldError{{Field: pgErr.ColumnName, Reason: "breaks the rule " + pgErr.ConstraintName}}}
		if json.Valid([]byte(pgErr.Detail)) {
			e.Facts = json.RawMessage(pgErr.Detail)
		}
		return e
	case pgErr.Code == sqlstateDenied:
		// Row-level security refused a row outside the actor's scope.
		return Errorf(EForbidden, "the change reaches rows outside what you may change")
	// PostgreSQL's own message is not passed on: it names relations and
	// SQL types, not the catalogue's fields. The constraint's name is the
	// catalogue's (each enumeration names its CHECK constraint).
	case pgErr.Code == "23502" && pgErr.ColumnName != "":
		return Errorf(EInvalid, "the field %s is required", pgErr.ColumnName)
	case strings.HasPrefix(pgErr.Code, "23") && pgErr.ConstraintName != "":
		return Errorf(EInvalid, "the data breaks the constraint %s", pgErr.ConstraintName)
	case strings.HasPrefix(pgErr.Code, "23"):
		return Errorf(EInvalid, "the data breaks a constraint of the schema")
	case pgErr.Code == "22003":
		return Errorf(EInvalid, "the database refused a value: a number is out of range")
	case pgErr.Code == "22001":
		return Errorf(EInvalid, "the database refused a value: a text is longer than its field takes")
	case strings.HasPrefix(pgErr.Code, "22"):
		return Errorf(EInvalid, "the database refused a value that does not have its field's form")
	}
	return err
}
