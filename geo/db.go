package geo

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is the database handle every read and change in geo takes: a pool
// (*pgxpool.Pool), one connection (*pgx.Conn, *pgxpool.Conn) or a
// transaction (pgx.Tx). Given a transaction, geo runs its statements in
// it and never commits it, so a caller can run one request in one
// transaction that carries who is asking (for row-level security and the
// audit) and decide itself how it ends.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	// Begin starts a transaction, or a savepoint inside one.
	Begin(ctx context.Context) (pgx.Tx, error)
}

var (
	_ DB = (*pgxpool.Pool)(nil)
	_ DB = (*pgxpool.Conn)(nil)
	_ DB = (*pgx.Conn)(nil)
	_ DB = pgx.Tx(nil)
)

// inTx reports whether db is a transaction already.
func inTx(db DB) bool {
	_, ok := db.(pgx.Tx)
	return ok
}

// snapshot starts a batch of reads that see the same data (a region, its
// children and their project counts agree while edits commit). On a pool
// or a connection the batch runs as one read-only repeatable-read
// transaction whose BEGIN travels with the queries instead of costing a
// round trip of its own; inside the caller's transaction it runs there,
// which is the caller's snapshot.
func snapshot(db DB) *pgx.Batch {
	b := &pgx.Batch{}
	if !inTx(db) {
		b.BeginTx(pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	}
	return b
}

// send runs b, made by snapshot for db, and ends the transaction it began,
// if it began one.
func send(ctx context.Context, db DB, b *pgx.Batch) error {
	br := db.SendBatch(ctx, b)
	tx := br.Tx()
	if tx == nil {
		return br.Close()
	}
	// After a commit the rollback does nothing; after a failure the
	// failure is the error worth returning.
	defer tx.Rollback(ctx)
	if err := br.Close(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// OnConns runs f on conns of pool's connections, each another: they are
// held until the last is done. It is for making statements ready on the
// connections that will serve the first requests (WarmSearch,
// tiles.Service.Warm), whose plans are kept per connection.
func OnConns(ctx context.Context, pool *pgxpool.Pool, conns int, f func(*pgxpool.Conn) error) error {
	var held []*pgxpool.Conn
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range conns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		held = append(held, c)
		if err := f(c); err != nil {
			return err
		}
	}
	return nil
}
