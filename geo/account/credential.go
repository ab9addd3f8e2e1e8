package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"
	"golang.org/x/sync/singleflight"

	"github.com/zunyi/battlemap/geo"
)

// Kind is what a credential is for.
type Kind string

// The kinds of credentials.
const (
	// Token is an API token: `Authorization: Bearer …`, made on the
	// command line and shown once.
	Token Kind = "token"
	// Session is what the login page gives a browser, in a cookie.
	Session Kind = "session"
)

// A credential is written "bm_" + id + "_" + secret: id (16 hex digits)
// finds its row, secret (32 random bytes, base64url) is what proves it.
// Only the argon2id digest of the whole credential is stored.
const (
	prefix      = "bm_"
	idBytes     = 8
	secretBytes = 32
)

// argon2id's parameters: OWASP's minimum for argon2id (19 MiB, two
// passes, one lane). A credential holds 256 random bits, which no
// guessing reaches; the slow hash is for a stolen table.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
	// maxArgonMemory is the most memory, in KiB, that matches spends on a
	// digest (1 GiB).
	maxArgonMemory = 1 << 20
)

const (
	sqlInsertCredential = `INSERT INTO credentials (id, user_name, kind, hash, expires_at)
SELECT $1, name, $3, $4, now() + $5::interval FROM users WHERE name = $2 AND disabled_at IS NULL`
	sqlCredential = `SELECT c.hash, u.name, u.role, u.counties, u.created_at, c.expires_at
FROM credentials c JOIN users u ON u.name = c.user_name
WHERE c.id = $1 AND u.disabled_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now())`
	sqlDeleteCredential = `DELETE FROM credentials WHERE id = $1`
	sqlPurgeExpired     = `DELETE FROM credentials WHERE expires_at <= now()`
)

// Create makes a credential of kind for the enabled user name, valid for
// ttl (0: until revoked), and returns it: the only time it is seen.
// ENotFound when there is no enabled user of that name.
func Create(ctx context.Context, db geo.DB, name string, kind Kind, ttl time.Duration) (string, error) {
	id := make([]byte, idBytes)
	secret := make([]byte, secretBytes)
	rand.Read(id)
	rand.Read(secret)
	cred := prefix + hex.EncodeToString(id) + "_" + base64.RawURLEncoding.EncodeToString(secret)
	var expires any
	if ttl > 0 {
		expires = fmt.Sprintf("%d milliseconds", ttl.Milliseconds())
	}
	tag, err := db.Exec(ctx, sqlInsertCredential, hex.EncodeToString(id), name, kind, hash(cred), expires)
	if err != nil {
		return "", fmt.Errorf("create credential: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return "", geo.Errorf(geo.ENotFound, "no enabled user named %s", geo.Quote(name))
	}
	// Sessions come and go with every login: clear the expired ones here
	// rather than in a job of their own.
	if kind == Session {
		if _, err := db.Exec(ctx, sqlPurgeExpired); err != nil {
			return "", fmt.Errorf("create credential: %w", err)
		}
	}
	return cred, nil
}

// hash is cred's argon2id digest in PHC string form, with a fresh salt.
func hash(cred string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(cred), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

// matches reports whether cred has the digest phc, made by hash (with
// whatever parameters it records).
func matches(cred, phc string) bool {
	var version int
	var memory, passes uint32
	var threads uint8
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	// argon2 panics on no passes or no lanes, and a memory cost far past
	// any we would choose is a row tampered with: refused, not run.
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &passes, &threads); err != nil ||
		passes < 1 || threads < 1 || memory > maxArgonMemory {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	key, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(cred), salt, passes, memory, threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// parse splits a credential into its id, or reports that it has not the
// form Create writes.
func parse(cred string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(cred, prefix)
	if !ok || len(rest) != 2*idBytes+1+base64.RawURLEncoding.EncodedLen(secretBytes) || rest[2*idBytes] != '_' {
		return "", false
	}
	id = rest[:2*idBytes]
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", false
	}
	// The secret is checked character by character: a base64 decoder
	// would skip a newline in it, and "=" or "+" are no part of what
	// Create writes.
	for _, c := range []byte(rest[2*idBytes+1:]) {
		if !strings.ContainsRune(base64URL, rune(c)) {
			return "", false
		}
	}
	return id, true
}

// base64URL is the alphabet of a credential's secret.
const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// Verifier checks credentials, keeping each one it verified for a short
// while: argon2id costs tens of milliseconds by design, and a wall or a
// GIS client sends a request per tile. Forget drops one at once (logout);
// a credential revoked elsewhere, or its user disabled, stops working
// here within CacheFor.
type Verifier struct {
	db geo.DB
	// CacheFor is how long a verified credential is believed without
	// asking the database again.
	CacheFor time.Duration

	mu   sync.Mutex
	seen map[[sha256.Size]byte]verified
	// flight joins the verifications of one credential that arrive
	// together (sixteen writers' first requests with one token) into one.
	flight singleflight.Group
	// hashing bounds the argon2id runs under way at once: each takes
	// argonMemory, and a burst of wrong secrets for a real id must not
	// take the process's memory with it.
	hashing chan struct{}
}

// maxHashing is how many argon2id runs a Verifier makes at once: about a
// core's worth each, 19 MiB each.
const maxHashing = 4

// verified is a credential verified, and until when it is believed.
type verified struct {
	user  User
	until time.Time
}

// maxCached bounds the credentials a Verifier keeps; past it, it starts
// afresh (they are re-verified on their next use).
const maxCached = 10_000

// NewVerifier checks credentials against db, keeping each verified one
// for cacheFor.
func NewVerifier(db geo.DB, cacheFor time.Duration) *Verifier {
	return &Verifier{db: db, CacheFor: cacheFor, seen: map[[sha256.Size]byte]verified{}, hashing: make(chan struct{}, maxHashing)}
}

// Verify returns the user cred belongs to, or ErrUnauthenticated.
func (v *Verifier) Verify(ctx context.Context, cred string) (*User, error) {
	key := sha256.Sum256([]byte(cred))
	now := time.Now()
	v.mu.Lock()
	if s, ok := v.seen[key]; ok && now.Before(s.until) {
		v.mu.Unlock()
		u := s.user
		return &u, nil
	}
	v.mu.Unlock()
	u, err, _ := v.flight.Do(string(key[:]), func() (any, error) { return v.verify(ctx, cred, key) })
	if err != nil {
		return nil, err
	}
	c := *u.(*User)
	return &c, nil
}

// verify checks cred against the database and keeps it when it verifies.
func (v *Verifier) verify(ctx context.Context, cred string, key [sha256.Size]byte) (*User, error) {
	id, ok := parse(cred)
	if !ok {
		return nil, ErrUnauthenticated
	}
	var phc string
	var u User
	var expires *time.Time
	err := v.db.QueryRow(ctx, sqlCredential, id).Scan(&phc, &u.Name, &u.Role, &u.Counties, &u.CreatedAt, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("verify credential: %w", err)
	}
	select {
	case v.hashing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ok = matches(cred, phc)
	<-v.hashing
	if !ok {
		return nil, ErrUnauthenticated
	}
	until := time.Now().Add(v.CacheFor)
	if expires != nil && expires.Before(until) {
		until = *expires
	}
	v.mu.Lock()
	if len(v.seen) >= maxCached {
		clear(v.seen)
	}
	v.seen[key] = verified{user: u, until: until}
	v.mu.Unlock()
	return &u, nil
}

// Revoke deletes cred (a logout), here and in the database; a credential
// that is not one is ignored.
func (v *Verifier) Revoke(ctx context.Context, cred string) error {
	key := sha256.Sum256([]byte(cred))
	v.mu.Lock()
	delete(v.seen, key)
	v.mu.Unlock()
	id, ok := parse(cred)
	if !ok {
		return nil
	}
	if _, err := v.db.Exec(ctx, sqlDeleteCredential, id); err != nil {
		return fmt.Errorf("revoke credential: %w", err)
	}
	return nil
}

// CSRFToken is the anti-forgery token of the session cred: derived from
// its secret, so another site, which cannot read the cookie, cannot make
// it, and no instance needs to store it.
func CSRFToken(cred string) string {
	m := hmac.New(sha256.New, []byte(cred))
	m.Write([]byte("battlemap csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether token is the anti-forgery token of session.
func CheckCSRF(session, token string) bool {
	return hmac.Equal([]byte(CSRFToken(session)), []byte(token))
}
