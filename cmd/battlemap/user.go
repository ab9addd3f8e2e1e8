package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/account"
	"github.com/zunyi/battlemap/geo/pgcluster"
)

// accountActor is who the audit log names for the accounts the command
// line adds and disables.
var accountActor = geo.Actor{Name: "battlemap user", All: true}

// verbCommands are the commands whose first argument is a verb, with
// flags before and after it.
var verbCommands = map[string]bool{"user": true, "token": true}

// The usage lines of the account commands.
const (
	userUsage  = "usage: battlemap user add --name NAME --role admin|county|viewer [--county CODE …] | user list | user disable NAME"
	tokenUsage = "usage: battlemap token create --user NAME [--expires DURATION]"
)

// listTime is how user list shows a time: to the minute, in local time,
// for a person reading a table.
const listTime = "2006-01-02 15:04"

// userCmd runs `battlemap user VERB`: add an account, list them, or
// disable one. It opens the database as the owner, since the server's
// role may not write users. A missing or unknown verb or flag is a usage
// error (status 2), found before the database is opened; so is a mistake
// the database finds in what was asked (a name taken, a county or a user
// unknown).
func userCmd(ctx context.Context, cfg Config, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		return usagef(userUsage)
	}
	verb, args := args[0], args[1:]
	switch {
	case verb == "add" && len(args) == 0:
		return userAdd(ctx, cfg, log)
	case verb == "list" && len(args) == 0:
		return userList(ctx, cfg, log)
	case verb == "disable" && len(args) == 1:
		return userDisable(ctx, cfg, args[0], log)
	case verb == "add" || verb == "list" || verb == "disable":
		return usagef(userUsage)
	}
	return usagef("unknown verb %q for battlemap user: want add, list or disable", verb)
}

// userAdd adds the account --name with --role and, for a county user,
// the counties --county names.
func userAdd(ctx context.Context, cfg Config, log *slog.Logger) error {
	a := cfg.Account
	if a.Name == "" {
		return usagef("user add needs --name NAME")
	}
	if !slices.Contains(account.Roles, account.Role(a.Role)) {
		return usagef("invalid value %q for flag --role: want admin, county or viewer", a.Role)
	}
	db, err := openDatabase(ctx, cfg, log, pgcluster.OwnerRole)
	if err != nil {
		return err
	}
	defer db.close()
	u := account.User{Name: a.Name, Role: account.Role(a.Role), Counties: a.Counties}
	if err := account.Add(ctx, db.pool, accountActor, u); err != nil {
		return callerError(err)
	}
	log.Info("added user", slog.String("name", u.Name), slog.String("role", a.Role))
	return nil
}

// userList prints every account as a table on stdout.
func userList(ctx context.Context, cfg Config, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, log, pgcluster.OwnerRole)
	if err != nil {
		return err
	}
	defer db.close()
	users, err := account.List(ctx, db.pool)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCOUNTIES\tCREATED\tDISABLED")
	for _, u := range users {
		counties, disabled := strings.Join(u.Counties, ","), "-"
		if counties == "" {
			counties = "-"
		}
		if u.Disabled != nil {
			disabled = u.Disabled.Local().Format(listTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, counties, u.CreatedAt.Local().Format(listTime), disabled)
	}
	return tw.Flush()
}

// userDisable disables the account name, which deletes its tokens and
// sessions.
func userDisable(ctx context.Context, cfg Config, name string, log *slog.Logger) error {
	db, err := openDatabase(ctx, cfg, log, pgcluster.OwnerRole)
	if err != nil {
		return err
	}
	defer db.close()
	if err := account.Disable(ctx, db.pool, accountActor, name); err != nil {
		return callerError(err)
	}
	log.Info("disabled user; its tokens and sessions are deleted", slog.String("name", name))
	return nil
}

// tokenCmd runs `battlemap token create`: it makes an API token for the
// enabled user --user, lasting --expires (0: until the user is
// disabled), and prints it alone on stdout, the only time it is shown; a
// note of whose it is and when it expires goes to stderr. Usage errors as
// userCmd's.
func tokenCmd(ctx context.Context, cfg Config, args []string, log *slog.Logger) error {
	if len(args) == 0 {
		return usagef(tokenUsage)
	}
	if args[0] != "create" {
		return usagef("unknown verb %q for battlemap token: want create", args[0])
	}
	if len(args) != 1 {
		return usagef(tokenUsage)
	}
	name, ttl := cfg.Account.User, cfg.Account.Expires
	if name == "" {
		return usagef("token create needs --user NAME")
	}
	db, err := openDatabase(ctx, cfg, log, pgcluster.OwnerRole)
	if err != nil {
		return err
	}
	defer db.close()
	token, err := account.Create(ctx, db.pool, name, account.Token, ttl)
	if err != nil {
		return callerError(err)
	}
	expiry := "it does not expire (disabling the user ends it)"
	if ttl > 0 {
		expiry = "it expires " + time.Now().Add(ttl).Local().Format(listTime+" MST")
	}
	fmt.Fprintf(os.Stderr, "API token for %s; %s. It is shown only this once: store it now.\n", name, expiry)
	fmt.Println(token)
	return nil
}

// callerError is err as a usage error when it is a mistake in what was
// asked that only the database could find (a name taken, a county or a
// user unknown): one line and status 2, as seed does with data already
// loaded. Other errors pass as they are.
func callerError(err error) error {
	var gerr *geo.Error
	if errors.As(err, &gerr) && (gerr.Code == geo.EInvalid || gerr.Code == geo.ENotFound) {
		return usagef("%s", gerr.Message)
	}
	return err
}
