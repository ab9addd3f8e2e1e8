package account

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testActor adds and disables the accounts of the tests.
var testActor = geo.Actor{Name: "account test", All: true}

// credForm is the exact form of a credential.
var credForm = regexp.MustCompile(`^bm_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`)

// setup returns a fresh database with the enabled users alice (admin),
// bob (county user of 520302) and wall (viewer).
func setup(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.New(t)
	for _, u := range []User{
		{Name: "alice", Role: Admin},
		{Name: "bob", Role: County, Counties: []string{"520302"}},
		{Name: "wall", Role: Viewer},
	} {
		if err := Add(context.Background(), pool, testActor, u); err != nil {
			t.Fatalf("Add %s: %v", u.Name, err)
		}
	}
	return pool
}

// create makes a credential of kind for name, or fails the test.
func create(t *testing.T, pool *pgxpool.Pool, name string, kind Kind, ttl time.Duration) string {
	t.Helper()
	cred, err := Create(context.Background(), pool, name, kind, ttl)
	if err != nil {
		t.Fatalf("Create for %s: %v", name, err)
	}
	if !credForm.MatchString(cred) {
		t.Fatalf("Create made %q, not of the form bm_<16 hex>_<43 base64url>", cred)
	}
	return cred
}

// TestAdd checks the accounts Add makes and the ones it refuses, each
// with an EInvalid naming the mistake.
func TestAdd(t *testing.T) {
	pool := setup(t)
	ctx := context.Background()
	tests := []struct {
		name string
		user User
		want string // in the EInvalid's message; "" for success
	}{
		{"admin without counties (nil, sent as an empty array)", User{Name: "root", Role: Admin}, ""},
		{"county user, counties repeated and out of order", User{Name: "zheng", Role: County, Counties: []string{"520303", "520302", "520303"}}, ""},
		{"name taken", User{Name: "alice", Role: Viewer}, "exists already"},
		{"malformed name", User{Name: "a b", Role: Admin}, "invalid user name"},
		{"unknown role", User{Name: "carol", Role: "boss"}, "invalid role"},
		{"county user without a county", User{Name: "carol", Role: County}, "at least one county"},
		{"viewer with a county", User{Name: "carol", Role: Viewer, Counties: []string{"520302"}}, "only county users"},
		{"unknown county", User{Name: "carol", Role: County, Counties: []string{"520302", "999999"}}, `no county with code "999999"`},
		{"the city is no county", User{Name: "carol", Role: County, Counties: []string{"520300"}}, `no county with code "520300"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Add(ctx, pool, testActor, tt.user)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Add: %v", err)
				}
				return
			}
			if geo.ErrorCode(err) != geo.EInvalid || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Add: got %v (code %q), want EInvalid mentioning %q", err, geo.ErrorCode(err), tt.want)
			}
		})
	}
	users, err := List(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.Name+" "+string(u.Role)+" "+strings.Join(u.Counties, ","))
		if u.CreatedAt.IsZero() || u.Disabled != nil {
			t.Errorf("user %s: created %v, disabled %v; want a creation time and not disabled", u.Name, u.CreatedAt, u.Disabled)
		}
	}
	want := []string{"alice admin ", "bob county 520302", "root admin ", "wall viewer ", "zheng county 520302,520303"}
	if !slices.Equal(got, want) {
		t.Errorf("List: got %q, want %q", got, want)
	}
}

// TestVerify checks which credentials Verify takes and whose user it
// returns; every credential it refuses is ErrUnauthenticated, whatever
// the reason.
func TestVerify(t *testing.T) {
	pool := setup(t)
	ctx := context.Background()
	alice := create(t, pool, "alice", Token, 0)
	bob := create(t, pool, "bob", Session, time.Hour)
	expired := create(t, pool, "alice", Token, time.Hour)
	if _, err := pool.Exec(ctx, `UPDATE credentials SET expires_at = now() - interval '1 second' WHERE id = $1`, expired[3:19]); err != nil {
		t.Fatal(err)
	}
	disabled := create(t, pool, "wall", Token, 0)
	if err := Disable(ctx, pool, testActor, "wall"); err != nil {
		t.Fatal(err)
	}
	// otherSecret is alice's id with bob's secret: a well-formed
	// credential whose row exists, but whose digest is not its own.
	otherSecret := alice[:20] + bob[20:]
	tests := []struct {
		name  string
		cred  string
		want  string // the user's name; "" for ErrUnauthenticated
		actor geo.Actor
	}{
		{"admin's token", alice, "alice", geo.Actor{Name: "alice", All: true, Counties: []string{}}},
		{"county user's session", bob, "bob", geo.Actor{Name: "bob", Counties: []string{"520302"}}},
		{"valid id, wrong secret", otherSecret, "", geo.Actor{}},
		{"unknown id", "bm_0123456789abcdef" + bob[19:], "", geo.Actor{}},
		{"expired", expired, "", geo.Actor{}},
		{"disabled user's", disabled, "", geo.Actor{}},
		{"empty", "", "", geo.Actor{}},
		{"prefix alone", "bm_", "", geo.Actor{}},
		{"with the Bearer scheme", "Bearer " + alice, "", geo.Actor{}},
		{"prefix in capitals", "BM_" + alice[3:], "", geo.Actor{}},
		{"id in capitals", "bm_" + strings.ToUpper(alice[3:19]) + alice[19:], "", geo.Actor{}},
		{"one character short", alice[:len(alice)-1], "", geo.Actor{}},
		{"one character more", alice + "A", "", geo.Actor{}},
		{"trailing newline", alice + "\n", "", geo.Actor{}},
		{"secret not base64url", alice[:20] + strings.Repeat("+", 43), "", geo.Actor{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := NewVerifier(pool, 0).Verify(ctx, tt.cred)
			if tt.want == "" {
				if !errors.Is(err, ErrUnauthenticated) {
					t.Errorf("Verify: got %v, %v; want ErrUnauthenticated", u, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if u.Name != tt.want {
				t.Errorf("Verify: got user %s, want %s", u.Name, tt.want)
			}
			if a := u.Actor(); a.Name != tt.actor.Name || a.All != tt.actor.All || !slices.Equal(a.Counties, tt.actor.Counties) {
				t.Errorf("Actor: got %+v, want %+v", a, tt.actor)
			}
		})
	}
}

// TestCreateRefused: no credential for a user that does not exist or is
// disabled.
func TestCreateRefused(t *testing.T) {
	pool := setup(t)
	ctx := context.Background()
	if err := Disable(ctx, pool, testActor, "wall"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nobody", "wall"} {
		if _, err := Create(ctx, pool, name, Token, 0); geo.ErrorCode(err) != geo.ENotFound {
			t.Errorf("Create for %s: got %v, want ENotFound", name, err)
		}
	}
	if err := Disable(ctx, pool, testActor, "nobody"); geo.ErrorCode(err) != geo.ENotFound {
		t.Errorf("Disable nobody: got %v, want ENotFound", err)
	}
}

// phcForm is an argon2id digest in PHC string form with the parameters
// hash uses: a 16-byte salt and a 32-byte key, unpadded base64.
var phcForm = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

// TestStoredHash: what the database keeps is an argon2id PHC string, with
// a salt of its own, that holds neither the credential nor its secret.
func TestStoredHash(t *testing.T) {
	pool := setup(t)
	ctx := context.Background()
	var hashes []string
	for range 2 {
		cred := create(t, pool, "alice", Token, 0)
		var stored, kind string
		if err := pool.QueryRow(ctx, `SELECT hash, kind FROM credentials WHERE id = $1`, cred[3:19]).Scan(&stored, &kind); err != nil {
			t.Fatal(err)
		}
		if !phcForm.MatchString(stored) {
			t.Errorf("stored hash %q is not an argon2id PHC string", stored)
		}
		if strings.Contains(stored, cred[20:]) || strings.Contains(stored, cred[3:19]) {
			t.Errorf("stored hash %q contains the credential %q", stored, cred)
		}
		if kind != string(Token) {
			t.Errorf("stored kind %q, want token", kind)
		}
		if !matches(cred, stored) {
			t.Errorf("matches(%q, its own hash) = false", cred)
		}
		hashes = append(hashes, stored)
	}
	if hashes[0][:strings.LastIndex(hashes[0], "$")] == hashes[1][:strings.LastIndex(hashes[1], "$")] {
		t.Errorf("two credentials share a salt: %q, %q", hashes[0], hashes[1])
	}
}

// TestMatches checks that a digest that is not an argon2id PHC string of
// the credential never matches, and never panics.
func TestMatches(t *testing.T) {
	const cred = "bm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	good := hash(cred)
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := slices.Clone(parts)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := []struct {
		name string
		cred string
		phc  string
		want bool
	}{
		{"its own digest", cred, good, true},
		{"another credential", cred[:len(cred)-1] + "B", good, false},
		{"argon2i", cred, with(1, "argon2i"), false},
		{"another version", cred, with(2, "v=16"), false},
		{"parameters that do not parse", cred, with(3, "m=lots"), false},
		{"no passes", cred, with(3, "m=19456,t=0,p=1"), false},
		{"no lanes", cred, with(3, "m=19456,t=2,p=0"), false},
		{"salt not base64", cred, with(4, "!!"), false},
		{"empty key", cred, with(5, ""), false},
		{"key cut short", cred, with(5, parts[5][:20]), false},
		{"a part too few", cred, strings.Join(parts[:5], "$"), false},
		{"empty", cred, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(tt.cred, tt.phc); got != tt.want {
				t.Errorf("matches(%q, %q) = %v, want %v", tt.cred, tt.phc, got, tt.want)
			}
		})
	}
}

// TestCache: a Verifier believes what it verified for CacheFor, even once
// the user is disabled elsewhere; Revoke ends a credential at once, here
// and in the database.
func TestCache(t *testing.T) {
	pool := setup(t)
	ctx := context.Background()
	v := NewVerifier(pool, time.Hour)
	alice := create(t, pool, "alice", Session, time.Hour)
	bob := create(t, pool, "bob", Session, time.Hour)
	for _, cred := range []string{alice, bob} {
		if _, err := v.Verify(ctx, cred); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if err := Disable(ctx, pool, testActor, "bob"); err != nil {
		t.Fatal(err)
	}
	if u, err := v.Verify(ctx, bob); err != nil || u.Name != "bob" {
		t.Errorf("Verify of a cached credential: got %v, %v; want bob, as cached", u, err)
	}
	if _, err := NewVerifier(pool, time.Hour).Verify(ctx, bob); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Verify by another Verifier after Disable: got %v, want ErrUnauthenticated", err)
	}

	if err := v.Revoke(ctx, alice); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := v.Verify(ctx, alice); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Verify after Revoke: got %v, want ErrUnauthenticated", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM credentials WHERE id = $1`, alice[3:19]).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows of the revoked credential: got %d (%v), want 0", n, err)
	}
	for _, cred := range []string{alice, "", "not a credential"} {
		if err := v.Revoke(ctx, cred); err != nil {
			t.Errorf("Revoke(%q) again or malformed: %v, want nil", cred, err)
		}
	}
}

// TestCSRF: a session's anti-forgery token is its own, stable, and no
// other session's.
func TestCSRF(t *testing.T) {
	const (
		a = "bm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		b = "bm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"
	)
	ta := CSRFToken(a)
	if ta != CSRFToken(a) {
		t.Fatalf("CSRFToken is not stable: %q, %q", ta, CSRFToken(a))
	}
	if strings.Contains(ta, a[20:]) {
		t.Errorf("CSRFToken %q shows the session's secret", ta)
	}
	tests := []struct {
		name           string
		session, token string
		want           bool
	}{
		{"its own token", a, ta, true},
		{"another session's token", b, ta, false},
		{"empty token", a, "", false},
		{"token cut short", a, ta[:len(ta)-1], false},
		{"the session itself", a, a, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckCSRF(tt.session, tt.token); got != tt.want {
				t.Errorf("CheckCSRF(%q, %q) = %v, want %v", tt.session, tt.token, got, tt.want)
			}
		})
	}
}

// TestSessionsPurgeExpired: making a session deletes the expired
// credentials, so logins do not pile up rows.
func TestSessionsPurgeExpired(t *testing.T) {
	pool := setup(t)
	ctx := context.Background()
	old := create(t, pool, "alice", Session, time.Hour)
	if _, err := pool.Exec(ctx, `UPDATE credentials SET expires_at = now() - interval '1 second' WHERE id = $1`, old[3:19]); err != nil {
		t.Fatal(err)
	}
	create(t, pool, "alice", Session, time.Hour)
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM credentials WHERE id = $1`, old[3:19]).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows of the expired session: got %d (%v), want 0", n, err)
	}
}
