package geo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestUnavailable checks which errors mean "the database cannot answer
// now" (503) and which do not.
func TestUnavailable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"backend terminated", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"too many connections", fmt.Errorf("regions: %w", &pgconn.PgError{Code: "53300"}), true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"connection cut mid-answer", fmt.Errorf("tile: %w", io.ErrUnexpectedEOF), true},
		{"constraint violation", &pgconn.PgError{Code: "23514"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"the request's own deadline", fmt.Errorf("tile: %w", context.DeadlineExceeded), false},
		{"a client that left", context.Canceled, false},
		{"a domain error", Errorf(EInvalid, "bad bbox"), false},
		{"anything else", errors.New("boom"), false},
		{"none", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := Unavailable(tt.err)
			if got := u != nil; got != tt.want {
				t.Fatalf("Unavailable(%v) = %v, want unavailable %v", tt.err, u, tt.want)
			}
			if u != nil && (u.Code != EUnavailable || ErrorCode(u) != EUnavailable) {
				t.Errorf("code %q, want %q", u.Code, EUnavailable)
			}
		})
	}
}
