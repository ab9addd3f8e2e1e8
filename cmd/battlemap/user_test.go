package main

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// tokenForm is what `token create` prints: the whole of a credential.
var tokenForm = regexp.MustCompile(`^bm_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`)

// TestUserUsage checks that a wrong account command line ends with status
// 2 and one line saying what is wrong, before any database is opened.
func TestUserUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"user without a verb", []string{"user"}, "usage: battlemap user"},
		{"unknown user verb", []string{"user", "remove", "alice"}, `unknown verb "remove"`},
		{"add without --name", []string{"user", "add", "--role", "admin"}, "--name"},
		{"add without --role", []string{"user", "add", "--name", "alice"}, "--role"},
		{"add with an unknown role", []string{"user", "add", "--name", "alice", "--role", "boss"}, `"boss" for flag --role`},
		{"add with an argument", []string{"user", "add", "--name", "alice", "--role", "admin", "bob"}, "usage: battlemap user"},
		{"disable without a name", []string{"user", "disable"}, "usage: battlemap user"},
		{"disable two names", []string{"user", "disable", "alice", "bob"}, "usage: battlemap user"},
		{"list with an argument", []string{"user", "list", "all"}, "usage: battlemap user"},
		{"token without a verb", []string{"token"}, "usage: battlemap token"},
		{"unknown token verb", []string{"token", "revoke"}, `unknown verb "revoke"`},
		{"create without --user", []string{"token", "create"}, "--user"},
		{"expiry that does not parse", []string{"token", "create", "--user", "alice", "--expires", "soon"}, "-expires"},
		{"expiry in days", []string{"token", "create", "--user", "alice", "--expires", "30d"}, "-expires"},
		{"negative expiry", []string{"token", "create", "--user", "alice", "--expires", "-1h"}, "--expires"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A database that cannot be reached: usage errors come first.
			code, _, stderr := runImport(t, []string{"DATABASE_URL=postgres://nobody@127.0.0.1:1/none"}, tt.args...)
			msg := strings.TrimSpace(stderr)
			if code != 2 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tt.want) {
				t.Errorf("got status %d, stderr %q; want 2 and one line mentioning %q", code, msg, tt.want)
			}
		})
	}
}

// TestUserCommands adds accounts through the command line, one step after
// another on one database, then lists them. A mistake the database finds
// (a name taken, a county unknown) is status 2 and one line. The steps
// give a flag before the verb, the list after it: both work.
func TestUserCommands(t *testing.T) {
	pool := pgtest.New(t)
	env := []string{"DATABASE_URL=" + pool.Config().ConnString()}
	steps := []struct {
		name   string
		args   []string
		status int
		want   string // in stderr, when status is 2
	}{
		{"admin", []string{"add", "--name", "alice", "--role", "admin"}, 0, ""},
		{"county user with two counties", []string{"add", "--name", "bob", "--role", "county", "--county", "520303", "--county", "520302"}, 0, ""},
		{"county user with a comma list", []string{"add", "--name", "carol", "--role", "county", "--county", "520322,520323"}, 0, ""},
		{"viewer", []string{"add", "--name", "wall", "--role", "viewer"}, 0, ""},
		{"name taken", []string{"add", "--name", "alice", "--role", "viewer"}, 2, "exists already"},
		{"county user without a county", []string{"add", "--name", "dave", "--role", "county"}, 2, "at least one county"},
		{"unknown county", []string{"add", "--name", "dave", "--role", "county", "--county", "999999"}, 2, `no county with code "999999"`},
		{"the city is no county", []string{"add", "--name", "dave", "--role", "county", "--county", "520300"}, 2, `no county with code "520300"`},
		{"viewer with a county", []string{"add", "--name", "dave", "--role", "viewer", "--county", "520302"}, 2, "only county users"},
		{"malformed name", []string{"add", "--name", "-dave", "--role", "admin"}, 2, "invalid user name"},
		{"disable an unknown user", []string{"disable", "dave"}, 2, `no user named "dave"`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, _, stderr := runImport(t, env, append([]string{"user", "--log-level", "error"}, st.args...)...)
			msg := strings.TrimSpace(stderr)
			if code != st.status {
				t.Fatalf("status %d, want %d; stderr:\n%s", code, st.status, msg)
			}
			if st.status == 2 && (strings.Count(msg, "\n") != 0 || !strings.Contains(msg, st.want)) {
				t.Errorf("stderr %q: want one line mentioning %q", msg, st.want)
			}
		})
	}

	code, stdout, stderr := runImport(t, env, "user", "list", "--log-level", "error")
	if code != 0 {
		t.Fatalf("user list: status %d; stderr:\n%s", code, stderr)
	}
	want := [][]string{
		{"NAME", "ROLE", "COUNTIES", "CREATED", "DISABLED"},
		{"alice", "admin", "-", "?", "-"},
		{"bob", "county", "520302,520303", "?", "-"},
		{"carol", "county", "520322,520323", "?", "-"},
		{"wall", "viewer", "-", "?", "-"},
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("user list printed %d lines, want %d:\n%s", len(lines), len(want), stdout)
	}
	for i, line := range lines {
		// CREATED is a date and a time: two fields once split.
		f := strings.Fields(line)
		if i > 0 && len(f) == 6 {
			f = append(f[:3], f[3]+" "+f[4], f[5])
		}
		if len(f) != 5 {
			t.Errorf("line %q: got %d columns, want 5", line, len(f))
			continue
		}
		for j, w := range want[i] {
			if w == "?" {
				if _, err := time.Parse(listTime, f[j]); err != nil {
					t.Errorf("line %q: column %d %q is not a time: %v", line, j, f[j], err)
				}
			} else if f[j] != w {
				t.Errorf("line %q: column %d is %q, want %q", line, j, f[j], w)
			}
		}
		// The columns are aligned: each starts where the header's does.
		if i > 0 && strings.Index(line, f[1]) != strings.Index(lines[0], "ROLE") {
			t.Errorf("line %q: ROLE column not aligned with the header %q", line, lines[0])
		}
	}
}

// TestTokenCreate makes tokens through the command line: the token is
// stdout's only line and verifies; --expires sets its expiry; a user that
// is unknown or disabled gets none; disabling a user ends its tokens.
func TestTokenCreate(t *testing.T) {
	pool := pgtest.New(t)
	ctx := context.Background()
	env := []string{"DATABASE_URL=" + pool.Config().ConnString()}
	for _, u := range []account.User{{Name: "alice", Role: account.Admin}, {Name: "gone", Role: account.Viewer}} {
		if err := account.Add(ctx, pool, geo.Actor{Name: "test", All: true}, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := account.Disable(ctx, pool, geo.Actor{Name: "test", All: true}, "gone"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		status  int
		want    string        // in stderr
		expires time.Duration // 0: none
	}{
		{"no expiry", []string{"--user", "alice"}, 0, "does not expire", 0},
		{"expires in two hours", []string{"--user", "alice", "--expires", "2h"}, 0, "it expires", 2 * time.Hour},
		{"expires in 90 minutes", []string{"--expires=1h30m", "--user", "alice"}, 0, "it expires", 90 * time.Minute},
		{"unknown user", []string{"--user", "nobody"}, 2, `no enabled user named "nobody"`, 0},
		{"disabled user", []string{"--user", "gone"}, 2, `no enabled user named "gone"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runImport(t, env, append([]string{"token", "create", "--log-level", "error"}, tt.args...)...)
			msg := strings.TrimSpace(stderr)
			if code != tt.status || !strings.Contains(msg, tt.want) || strings.Count(msg, "\n") != 0 {
				t.Fatalf("got status %d, stderr %q; want %d and one line mentioning %q", code, msg, tt.status, tt.want)
			}
			if tt.status != 0 {
				if stdout != "" {
					t.Errorf("stdout %q, want nothing", stdout)
				}
				return
			}
			token := strings.TrimSuffix(stdout, "\n")
			if !tokenForm.MatchString(token) || stdout != token+"\n" {
				t.Fatalf("stdout %q: want the token alone on one line", stdout)
			}
			if strings.Contains(stderr, token) {
				t.Errorf("stderr %q shows the token too", stderr)
			}
			u, err := account.NewVerifier(pool, 0).Verify(ctx, token)
			if err != nil || u.Name != "alice" {
				t.Fatalf("Verify: got %v, %v; want alice", u, err)
			}
			var seconds *float64
			err = pool.QueryRow(ctx, `SELECT extract(epoch FROM expires_at - created_at)::float8 FROM credentials WHERE id = $1`,
				token[3:19]).Scan(&seconds)
			switch {
			case err != nil:
				t.Fatal(err)
			case tt.expires == 0 && seconds != nil:
				t.Errorf("token expires after %gs, want never", *seconds)
			case tt.expires != 0 && (seconds == nil || (time.Duration(*seconds*float64(time.Second))-tt.expires).Abs() > time.Minute):
				t.Errorf("token expires after %v seconds, want %s", seconds, tt.expires)
			}
		})
	}

	t.Run("disable ends the tokens", func(t *testing.T) {
		_, token, _ := runImport(t, env, "token", "create", "--user", "alice", "--log-level", "error")
		token = strings.TrimSpace(token)
		if code, _, stderr := runImport(t, env, "user", "disable", "--log-level", "error", "alice"); code != 0 {
			t.Fatalf("user disable: status %d; stderr:\n%s", code, stderr)
		}
		if _, err := account.NewVerifier(pool, 0).Verify(ctx, token); !errors.Is(err, account.ErrUnauthenticated) {
			t.Errorf("Verify after disable: got %v, want ErrUnauthenticated", err)
		}
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM credentials WHERE user_name = 'alice'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("alice's credentials after disable: got %d (%v), want 0", n, err)
		}
		_, list, _ := runImport(t, env, "user", "list", "--log-level", "error")
		for _, line := range strings.Split(list, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == "alice" && f[len(f)-1] == "-" {
				t.Errorf("user list shows alice enabled after disable: %q", line)
			}
		}
		if code, _, _ := runImport(t, env, "user", "disable", "--log-level", "error", "alice"); code != 0 {
			t.Errorf("disabling a disabled user: status %d, want 0", code)
		}
	})
}
