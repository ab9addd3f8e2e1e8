// Package account holds who may use battlemap: users with a role (admin,
// county, viewer) and the counties a county user answers for, and their
// credentials (API tokens and login sessions), whose secrets are stored
// only as argon2id digests. A verified credential yields the user, whose
// Actor carries the scope that the database's row-level security then
// enforces on every write (migrations/005_accounts.sql).
package account

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
)

// Role is what a user may do.
type Role string

// The roles.
const (
	// Admin changes the whole data set.
	Admin Role = "admin"
	// County changes the rows of its counties.
	County Role = "county"
	// Viewer only reads (a wall display's kiosk token, for one).
	Viewer Role = "viewer"
)

// Roles are the roles, as users_role_known allows them.
var Roles = []Role{Admin, County, Viewer}

// User is an account.
type User struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Counties are the county codes a county user answers for; empty for
	// the other roles.
	Counties  []string   `json:"counties"`
	CreatedAt time.Time  `json:"created_at"`
	Disabled  *time.Time `json:"disabled_at,omitempty"`
}

// Actor is u as the author of a change: an admin may change everything,
// a county user the rows of their counties, a viewer nothing.
func (u *User) Actor() geo.Actor {
	return geo.Actor{Name: u.Name, All: u.Role == Admin, Counties: slices.Clone(u.Counties)}
}

// MayEdit reports whether u's role changes data at all.
func (u *User) MayEdit() bool { return u.Role == Admin || u.Role == County }

// namePattern is users_name_form: what a user name may be.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

// The SQL of accounts, in one place.
const (
	sqlCounties = `SELECT array_agg(code ORDER BY code) FILTER (WHERE level = 'county') FROM regions WHERE code = ANY ($1)`
	sqlAddUser  = `INSERT INTO users (name, role, counties) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`
	sqlUsers    = `SELECT name, role, counties, created_at, disabled_at FROM users ORDER BY name`
	sqlDisable  = `UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE name = $1`
	// A disabled user's credentials go with the account's use: sessions
	// and tokens stop working at once on every instance that does not
	// hold them in its cache (see Verifier).
	sqlDropCredentials = `DELETE FROM credentials WHERE user_name = $1`
)

// Add creates the account u (Name, Role, Counties), as actor. A county
// user needs at least one county, every one a county in the regions; the
// other roles take none. A name taken, malformed, or any other mistake is
// EInvalid naming what is wrong.
func Add(ctx context.Context, db geo.DB, actor geo.Actor, u User) error {
	if !namePattern.MatchString(u.Name) {
		return geo.Errorf(geo.EInvalid, "invalid user name %s: 1 to 64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit", geo.Quote(u.Name))
	}
	if !slices.Contains(Roles, u.Role) {
		return geo.Errorf(geo.EInvalid, "invalid role %s: want admin, county or viewer", geo.Quote(string(u.Role)))
	}
	// A nil slice would be sent as NULL, which users.counties refuses:
	// the other roles' "none" is an empty array.
	u.Counties = slices.Compact(slices.Sorted(slices.Values(u.Counties)))
	if u.Counties == nil {
		u.Counties = []string{}
	}
	switch {
	case u.Role == County && len(u.Counties) == 0:
		return geo.Errorf(geo.EInvalid, "a county user needs at least one county (--county CODE)")
	case u.Role != County && len(u.Counties) > 0:
		return geo.Errorf(geo.EInvalid, "only county users have counties; %s answers for the whole data set", u.Role)
	}
	if len(u.Counties) > 0 {
		var known []string
		if err := db.QueryRow(ctx, sqlCounties, u.Counties).Scan(&known); err != nil {
			return fmt.Errorf("add user: %w", err)
		}
		for _, c := range u.Counties {
			if !slices.Contains(known, c) {
				return geo.Errorf(geo.EInvalid, "no county with code %s", geo.Quote(c))
			}
		}
	}
	_, err := geo.Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlAddUser, u.Name, u.Role, u.Counties)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return geo.Errorf(geo.EInvalid, "a user named %s exists already", geo.Quote(u.Name))
		}
		return nil
	})
	return err
}

// List returns every account, by name.
func List(ctx context.Context, db geo.DB) ([]User, error) {
	rows, err := db.Query(ctx, sqlUsers)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) {
		var u User
		err := row.Scan(&u.Name, &u.Role, &u.Counties, &u.CreatedAt, &u.Disabled)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// Disable ends the account name, as actor: it can no longer sign in, and
// its tokens and sessions are deleted. The account stays, for the audit
// log that names it. ENotFound when there is no such user.
func Disable(ctx context.Context, db geo.DB, actor geo.Actor, name string) error {
	_, err := geo.Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlDisable, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return geo.Errorf(geo.ENotFound, "no user named %s", geo.Quote(name))
		}
		_, err = tx.Exec(ctx, sqlDropCredentials, name)
		return err
	})
	return err
}

// ErrUnauthenticated is a credential that does not verify: unknown,
// wrong, expired, or its user disabled. Which of them is not said.
var ErrUnauthenticated = errors.New("the credential is not valid")
