package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zunyi/battlemap/geo"
)

// Config is all of battlemap's configuration, in sections; defaults are
// set in one place, defaultConfig.
type Config struct {
	Server struct {
		Addr            string
		RequestTimeout  time.Duration
		ShutdownTimeout time.Duration
		BodyLimit       int
		PublicURL       string
		// TrustedProxies are the IPs and CIDR prefixes of the reverse
		// proxies whose X-Forwarded-Proto and X-Forwarded-Host are
		// believed; empty means none.
		TrustedProxies listFlag
	}
	Tiles struct {
		CacheBytes int64
		MaxAge     time.Duration
	}
	// API holds the settings of the JSON and GeoJSON answers.
	API struct {
		CacheBytes int64
	}
	// VersionCheck is how the caches (tiles and API) learn of changes:
	// "query" (a read per lookup, strict) or "notify" (LISTEN/NOTIFY, no
	// read).
	VersionCheck string
	Database     struct {
		// URL of an existing PostGIS database; empty means the private
		// cluster under DataDir.
		URL              string
		DataDir          string
		StatementTimeout time.Duration
		MaxConns         int
		// ReplicaURLs are streaming replicas of the database that reads
		// may use once they have caught up (geo.Replicas).
		ReplicaURLs listFlag
		// ReplicaMaxLag is how far behind a replica may be before it is
		// taken out of rotation.
		ReplicaMaxLag time.Duration
		// ReplicaWait is how long a read waits for a replica to catch up
		// with it before going to the primary.
		ReplicaWait time.Duration
	}
	Log struct {
		Level  slog.Level
		Format string
	}
	// Root is the code of the region the pages open on; "" means the top
	// region of the data (the first by code when there are several).
	Root string
	// MaxEventStreams bounds the open Server-Sent Events streams.
	MaxEventStreams int
	// ReadAccess is who may read: "public" (anyone) or "viewer" (signed-in
	// users only, a kiosk's viewer token included).
	ReadAccess string
	// SeedDemo loads the Zunyi demo data at start when the database has
	// no map data yet.
	SeedDemo bool
	// Replace lets seed overwrite existing map data.
	Replace bool
	// Import holds the settings of map data imports.
	Import struct {
		// Enabled turns on POST /api/import/{layer}, for signed-in users
		// whose role edits.
		Enabled bool
		// Layer is what `battlemap import` loads: villages, sites,
		// projects or a factor layer.
		Layer string
		// DEM is the GeoTIFF `battlemap import --dem` loads as the
		// terrain.
		DEM string
	}
	// Account holds the arguments of `battlemap user` and `battlemap
	// token`.
	Account struct {
		// Name is the account that `user add` creates.
		Name string
		// Role is the new account's role: admin, county or viewer.
		Role string
		// Counties are the county codes a county user answers for.
		Counties listFlag
		// User is whose token `token create` makes.
		User string
		// Expires is how long a new token lasts; 0: it does not expire.
		Expires time.Duration
	}
}

func defaultConfig() Config {
	var c Config
	c.Server.Addr = "127.0.0.1:8080"
	c.Server.RequestTimeout = 30 * time.Second
	c.Server.ShutdownTimeout = 20 * time.Second
	c.Server.BodyLimit = 64 << 20
	c.Tiles.CacheBytes = 128 << 20
	c.API.CacheBytes = 64 << 20
	c.VersionCheck = "query"
	c.ReadAccess = "public"
	c.MaxEventStreams = 256
	c.Database.DataDir = "./var"
	c.Database.StatementTimeout = 25 * time.Second
	c.Database.MaxConns = 16
	c.Database.ReplicaMaxLag = 5 * time.Second
	c.Database.ReplicaWait = 10 * time.Millisecond
	c.Log.Level = slog.LevelInfo
	c.Log.Format = "text"
	return c
}

// envOf names the environment variable behind each flag; a flag given on
// the command line wins over its variable.
var envOf = map[string]string{
	"addr":              "BATTLEMAP_ADDR",
	"data-dir":          "BATTLEMAP_DATA_DIR",
	"database-url":      "DATABASE_URL",
	"request-timeout":   "BATTLEMAP_REQUEST_TIMEOUT",
	"statement-timeout": "BATTLEMAP_STATEMENT_TIMEOUT",
	"shutdown-timeout":  "BATTLEMAP_SHUTDOWN_TIMEOUT",
	"max-conns":         "BATTLEMAP_MAX_CONNS",
	"replica-url":       "BATTLEMAP_REPLICA_URL",
	"replica-max-lag":   "BATTLEMAP_REPLICA_MAX_LAG",
	"replica-wait":      "BATTLEMAP_REPLICA_WAIT",
	"body-limit":        "BATTLEMAP_BODY_LIMIT",
	"public-url":        "BATTLEMAP_PUBLIC_URL",
	"trusted-proxy":     "BATTLEMAP_TRUSTED_PROXY",
	"tile-cache-bytes":  "BATTLEMAP_TILE_CACHE_BYTES",
	"tile-max-age":      "BATTLEMAP_TILE_MAX_AGE",
	"api-cache-bytes":   "BATTLEMAP_API_CACHE_BYTES",
	"version-check":     "BATTLEMAP_VERSION_CHECK",
	"log-level":         "BATTLEMAP_LOG_LEVEL",
	"log-format":        "BATTLEMAP_LOG_FORMAT",
	"enable-import":     "BATTLEMAP_ENABLE_IMPORT",
	"root":              "BATTLEMAP_ROOT",
	"read-access":       "BATTLEMAP_READ_ACCESS",
	"max-event-streams": "BATTLEMAP_MAX_EVENT_STREAMS",
}

// usageError is a configuration mistake: main prints it on one line and
// exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// parseConfig reads the environment, then args, into a Config, and checks
// the result. It returns the remaining arguments.
func parseConfig(cmd string, args []string, getenv func(string) string) (Config, []string, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.Server.Addr, "addr", cfg.Server.Addr, "listen address host:port")
	fs.StringVar(&cfg.Database.DataDir, "data-dir", cfg.Database.DataDir, "data directory of the private PostgreSQL cluster")
	fs.StringVar(&cfg.Database.URL, "database-url", cfg.Database.URL, "URL of an existing PostGIS database (no private cluster)")
	fs.DurationVar(&cfg.Server.RequestTimeout, "request-timeout", cfg.Server.RequestTimeout, "longest time one request may take")
	fs.DurationVar(&cfg.Database.StatementTimeout, "statement-timeout", cfg.Database.StatementTimeout, "PostgreSQL statement_timeout")
	fs.DurationVar(&cfg.Server.ShutdownTimeout, "shutdown-timeout", cfg.Server.ShutdownTimeout, "how long in-flight requests get at shutdown")
	fs.IntVar(&cfg.Database.MaxConns, "max-conns", cfg.Database.MaxConns, "database connections in the pool")
	fs.Var(&cfg.Database.ReplicaURLs, "replica-url", "URL of a streaming replica of the database for reads (repeatable, or a comma list)")
	fs.DurationVar(&cfg.Database.ReplicaMaxLag, "replica-max-lag", cfg.Database.ReplicaMaxLag, "a replica further behind the primary is taken out of rotation until it catches up")
	fs.DurationVar(&cfg.Database.ReplicaWait, "replica-wait", cfg.Database.ReplicaWait, "how long a read waits for a replica to catch up with it before it reads the primary")
	fs.IntVar(&cfg.Server.BodyLimit, "body-limit", cfg.Server.BodyLimit, "largest request body in bytes")
	fs.StringVar(&cfg.Server.PublicURL, "public-url", cfg.Server.PublicURL, "scheme and host clients use, for URLs in TileJSON and the style (default: the request's)")
	fs.Var(&cfg.Server.TrustedProxies, "trusted-proxy", "IP or CIDR of a reverse proxy whose X-Forwarded-Proto/-Host are believed (repeatable, or a comma list)")
	fs.Int64Var(&cfg.Tiles.CacheBytes, "tile-cache-bytes", cfg.Tiles.CacheBytes, "in-process tile cache size in bytes; 0 disables it")
	fs.DurationVar(&cfg.Tiles.MaxAge, "tile-max-age", cfg.Tiles.MaxAge, "Cache-Control max-age of tiles; 0 means clients revalidate each time")
	fs.Int64Var(&cfg.API.CacheBytes, "api-cache-bytes", cfg.API.CacheBytes, "in-process cache of JSON and GeoJSON answers, in bytes; 0 disables it")
	fs.StringVar(&cfg.VersionCheck, "version-check", cfg.VersionCheck, "how the caches learn of changes: query (strict, a read per lookup) or notify (LISTEN/NOTIFY)")
	fs.TextVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "debug, info, warn or error")
	fs.StringVar(&cfg.Log.Format, "log-format", cfg.Log.Format, "text or json")
	fs.BoolVar(&cfg.SeedDemo, "seed-demo", false, "load the Zunyi demo data when the database is empty")
	fs.BoolVar(&cfg.Replace, "replace", false, "seed: replace existing map data")
	fs.StringVar(&cfg.Root, "root", "", "code of the region the pages open on (default: the first region without a parent, by code)")
	fs.BoolVar(&cfg.Import.Enabled, "enable-import", false, "serve POST /api/import/{layer} (to admins and county users, within their scope)")
	fs.StringVar(&cfg.ReadAccess, "read-access", cfg.ReadAccess, "who may read: public, or viewer (signed-in users only)")
	fs.IntVar(&cfg.MaxEventStreams, "max-event-streams", cfg.MaxEventStreams, "most open Server-Sent Events streams (GET /api/events); past it, 503")
	fs.StringVar(&cfg.Import.Layer, "layer", "", "import: the layer the file holds: regions, villages, sites, projects, hazard_zones, roads or services")
	fs.StringVar(&cfg.Import.DEM, "dem", "", "import: a GeoTIFF DEM (elevation in metres) to replace the terrain with")
	fs.StringVar(&cfg.Account.Name, "name", "", "user add: the new account's name")
	fs.StringVar(&cfg.Account.Role, "role", "", "user add: admin, county or viewer")
	fs.Var(&cfg.Account.Counties, "county", "user add: code of a county a county user answers for (repeatable, or a comma list)")
	fs.StringVar(&cfg.Account.User, "user", "", "token create: the user the token is for")
	fs.DurationVar(&cfg.Account.Expires, "expires", 0, "token create: how long the token lasts, e.g. 720h; 0: it does not expire")

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envOf[f.Name]
		if v := getenv(name); name != "" && v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = usagef("invalid value %q for %s (flag --%s): %v", v, name, f.Name, unwrapFlagErr(err))
			}
		}
	})
	if envErr != nil {
		return cfg, nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
			return cfg, nil, usagef("usage: battlemap %s [flags]", cmd)
		}
		return cfg, nil, usagef("%v", err)
	}
	return cfg, fs.Args(), cfg.check()
}

// listFlag is a flag that may be given several times, each time one value
// or a comma-separated list; the environment's value is one such list.
type listFlag []string

// String implements flag.Value.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *listFlag) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

func unwrapFlagErr(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// check rejects values that parse but cannot work, naming the flag.
func (c *Config) check() error {
	if _, _, err := net.SplitHostPort(c.Server.Addr); err != nil {
		return usagef("invalid value %q for flag --addr: want host:port", c.Server.Addr)
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"request-timeout", c.Server.RequestTimeout},
		{"statement-timeout", c.Database.StatementTimeout},
		{"shutdown-timeout", c.Server.ShutdownTimeout},
		{"replica-max-lag", c.Database.ReplicaMaxLag},
	} {
		if d.v <= 0 {
			return usagef("invalid value %s for flag --%s: must be positive", d.v, d.flag)
		}
	}
	if c.Database.MaxConns < 1 {
		return usagef("invalid value %d for flag --max-conns: must be at least 1", c.Database.MaxConns)
	}
	if c.Server.BodyLimit < 1 {
		return usagef("invalid value %d for flag --body-limit: must be at least 1", c.Server.BodyLimit)
	}
	if c.Tiles.CacheBytes < 0 {
		return usagef("invalid value %d for flag --tile-cache-bytes: must be 0 (off) or more", c.Tiles.CacheBytes)
	}
	if c.Tiles.MaxAge < 0 {
		return usagef("invalid value %s for flag --tile-max-age: must not be negative", c.Tiles.MaxAge)
	}
	if c.API.CacheBytes < 0 {
		return usagef("invalid value %d for flag --api-cache-bytes: must be 0 (off) or more", c.API.CacheBytes)
	}
	if c.MaxEventStreams < 1 {
		return usagef("invalid value %d for flag --max-event-streams: must be at least 1", c.MaxEventStreams)
	}
	if c.ReadAccess != "public" && c.ReadAccess != "viewer" {
		return usagef("invalid value %q for flag --read-access: want public or viewer", c.ReadAccess)
	}
	if c.Root != "" && !geo.IsRegionCode(c.Root) {
		return usagef("invalid value %q for flag --root: want a region's statistical code of 6, 9 or 12 digits", c.Root)
	}
	if c.VersionCheck != "query" && c.VersionCheck != "notify" {
		return usagef("invalid value %q for flag --version-check: want query or notify", c.VersionCheck)
	}
	if c.Server.PublicURL != "" {
		if u, err := url.Parse(c.Server.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("invalid value %q for flag --public-url: want http(s)://host[:port]", c.Server.PublicURL)
		}
	}
	for _, p := range c.Server.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return usagef("invalid value %q for flag --trusted-proxy: want an IP address or a CIDR prefix", p)
			}
		}
	}
	if strings.TrimSpace(c.Database.DataDir) == "" {
		return usagef("invalid value for flag --data-dir: must not be empty")
	}
	if c.Account.Expires < 0 {
		return usagef("invalid value %s for flag --expires: must not be negative (0: it does not expire)", c.Account.Expires)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return usagef("invalid value %q for flag --log-format: want text or json", c.Log.Format)
	}
	if c.Database.URL != "" {
		if _, err := pgxpool.ParseConfig(c.Database.URL); err != nil {
			return usagef("invalid value for DATABASE_URL (flag --database-url): %v", err)
		}
	}
	for _, u := range c.Database.ReplicaURLs {
		if _, err := pgxpool.ParseConfig(u); err != nil {
			return usagef("invalid value for BATTLEMAP_REPLICA_URL (flag --replica-url): %v", err)
		}
	}
	if c.Database.ReplicaWait < 0 {
		return usagef("invalid value %s for flag --replica-wait: must not be negative", c.Database.ReplicaWait)
	}
	return nil
}
