package main

import (
	"os"
	"os/user"
	"strconv"
	"testing"
)

// TestSocketOwner: serve with a DATABASE_URL over a Unix socket becomes
// the socket directory's owner, who can still connect, not nobody (who
// could not reach a private cluster's 0700 socket directory).
func TestSocketOwner(t *testing.T) {
	dir := t.TempDir()
	want := unprivilegedUser
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("no postgres user to own the socket directory")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		want = "postgres"
	} else if u, err := user.Current(); err == nil {
		want = u.Username
	}
	tests := []struct {
		name, url, want string
	}{
		{"socket directory", "postgres:///battlemap?host=" + dir, want},
		{"TCP", "postgres://battlemap@127.0.0.1:5432/battlemap", unprivilegedUser},
		{"missing directory", "postgres:///battlemap?host=" + dir + "/gone", unprivilegedUser},
		{"root's directory", "postgres:///battlemap?host=/", unprivilegedUser},
		{"malformed", "postgres://%zz", unprivilegedUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := socketOwner(tt.url); got != tt.want {
				t.Errorf("socketOwner(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}
