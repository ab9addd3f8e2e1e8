package geo

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// EUnavailable is the code of an error that says the database cannot
// answer now — it is down, restarting, refusing connections or out of
// them, or a statement ran past statement_timeout — rather than that
// the request is wrong: the same request may succeed later.
const EUnavailable = "unavailable"

// unavailableStates are the SQLSTATEs, or their classes (two characters),
// of a database that cannot answer now.
var unavailableStates = []string{
	"08",    // connection exception
	"53",    // insufficient resources: too_many_connections (53300), out of memory, disk full
	"57P01", // admin_shutdown: the backend was terminated or the server is stopping
	"57P02", // crash_shutdown
	"57P03", // cannot_connect_now: the server is starting up or shutting down
	"57014", // query_canceled: statement_timeout, or the request's own deadline
}

// Unavailable returns an EUnavailable error when err says the database
// cannot answer now (see EUnavailable): a PostgreSQL error of one of those
// states, a refused or failed connection, a connection that broke
// mid-statement, or a timeout inside pgx. Otherwise it returns nil. The
// message is the same for every cause, so nothing of the database's own
// wording reaches a client; the caller logs err.
func Unavailable(err error) *Error {
	if err == nil || !unavailable(err) {
		return nil
	}
	return &Error{Code: EUnavailable, Message: "the database is unavailable at the moment; try again shortly"}
}

func unavailable(err error) bool {
	if ErrorCode(err) != "" {
		return false // a domain error says what it is itself
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false // the request's own time ran out, or its client left
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		for _, s := range unavailableStates {
			if strings.HasPrefix(pgErr.Code, s) {
				return true
			}
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) ||
		pgconn.Timeout(err) ||
		// Nothing was sent, so the failure was in reaching the server.
		pgconn.SafeToRetry(err) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
