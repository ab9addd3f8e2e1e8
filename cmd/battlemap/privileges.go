package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// unprivilegedUser is who battlemap serve becomes when started as root
// with a DATABASE_URL over TCP: it then needs nothing of the machine but
// the network.
const unprivilegedUser = "nobody"

// socketOwner is who serve becomes with databaseURL: the owner of the
// directory of the Unix socket it connects through, who can still reach
// it (a directory of mode 0700, as a private cluster's is, keeps everyone
// else out), unless that is root; for a TCP address, or a directory whose
// owner is root or has no name, unprivilegedUser.
func socketOwner(databaseURL string) string {
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil || !strings.HasPrefix(cfg.Host, "/") {
		return unprivilegedUser
	}
	fi, err := os.Stat(cfg.Host)
	if err != nil {
		return unprivilegedUser
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return unprivilegedUser
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	if err != nil {
		return unprivilegedUser
	}
	return u.Username
}

// dropPrivileges makes the process name's user and group, with no
// supplementary groups, when it runs as root; otherwise it does nothing.
// Call it once whatever needs root is done (starting the cluster as its
// user, binding the listener). Since Go 1.16 the calls apply to every
// thread of the process, so no goroutine keeps root behind.
func dropPrivileges(name string, log *slog.Logger) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("drop privileges: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("drop privileges: uid of %s: %w", name, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("drop privileges: gid of %s: %w", name, err)
	}
	// Groups first, then the group, then the user: once the user is no
	// longer root, the others can no longer be changed.
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("drop privileges: setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("drop privileges: setgid: %w", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("drop privileges: setuid: %w", err)
	}
	log.Info("running as an unprivileged user", slog.String("user", name), slog.Int("uid", uid), slog.Int("gid", gid))
	return nil
}
