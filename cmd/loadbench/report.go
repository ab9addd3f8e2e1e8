package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// machine describes where the figures were measured.
func machine(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	mem, err := statusKiB("/proc/meminfo", "MemTotal")
	if err != nil {
		return "", err
	}
	kernel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "", err
	}
	var pg, postgis string
	if err := pool.QueryRow(ctx, `SELECT current_setting('server_version'), postgis_lib_version()`).Scan(&pg, &postgis); err != nil {
		return "", fmt.Errorf("versions: %w", err)
	}
	return fmt.Sprintf("%d cores (`nproc`), %.1f GiB memory, Linux %s, PostgreSQL %s, PostGIS %s, %s",
		runtime.NumCPU(), float64(mem)/(1<<30), strings.TrimSpace(string(kernel)), pg, postgis, runtime.Version()), nil
}

// section renders a scenario's markdown section: how it was produced,
// the runs, and the targets.
func section(sc *scenario, command, settings, host string, runs []*result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", sc.title)
	fmt.Fprintf(&b, "Command: `%s`  \n", command)
	fmt.Fprintf(&b, "Settings: %s  \n", settings)
	fmt.Fprintf(&b, "Date: %s  \n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s\n\n", host)
	fmt.Fprintf(&b, "%s\n\n", sc.about)
	b.WriteString(runTable(sc.unit, runs))
	b.WriteString("\n")
	if sc.detail != "" {
		b.WriteString(sc.detail + "\n")
	}

	byName := map[string]*result{}
	for _, r := range runs {
		byName[r.name] = r
	}
	b.WriteString("| target | wanted | measured | |\n| --- | --- | --- | --- |\n")
	for _, t := range sc.targets {
		got, met := t.check(byName)
		want, verdict := t.want, "not met"
		switch {
		case want == "":
			want, verdict = "—", "figure only"
		case met:
			verdict = "met"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.name, want, got, verdict)
	}
	return b.String()
}

// runTable is the figures of each run as a markdown table. CPU is in
// cores busy on average: the server, PostgreSQL, this load generator,
// and the rest of the machine; and in time spent per request answered
// by the server (its user and system time from /proc/PID/stat),
// PostgreSQL and this load generator, except for runs that shared the
// CPU with another load.
func runTable(unit string, runs []*result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| run | %s/s | p50 | p99 | max | mean bytes (non-empty) | 200 / non-empty | 204 / empty | other status | errors | server peak RSS (VmHWM / sampled VmRSS) | CPU cores: server / PostgreSQL / loadbench / rest | CPU per request: server / PostgreSQL / loadbench |\n", unit)
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, r := range runs {
		rss, server := "—", "—"
		per := r.cpuPerRequest()
		if r.hwm > 0 {
			rss = mib(r.hwm) + " / " + mib(r.rssMax)
			server = cpuMS(per.server)
		}
		perRequest := server + " / " + cpuMS(per.postgres) + " / " + cpuMS(per.loadgen)
		if r.shared {
			perRequest = "— (loads ran together)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f / %.2f / %.2f / %.2f | %s |\n",
			r.name, perSecond(r.rate()), ms(r.percentile(0.50)), ms(r.percentile(0.99)), ms(r.percentile(1)),
			thousands(r.meanBytes()), count(r.counts[full]), count(r.counts[empty]), otherStatuses(r), count(r.counts[failed]),
			rss, r.cpu.server, r.cpu.postgres, r.cpu.loadgen, r.cpu.rest, perRequest)
	}
	return b.String()
}

// writeSection puts sec into the markdown file at path in place of the
// section with the same "## " heading (up to the next "## " heading), or
// at the end when there is none; the rest of the file is kept as it is.
// A missing file is created.
func writeSection(path, sec string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	heading, _, _ := strings.Cut(sec, "\n")
	lines := strings.SplitAfter(string(old), "\n")
	start, end := -1, len(lines)
	for i, l := range lines {
		if start < 0 {
			if strings.TrimRight(l, " \n") == heading {
				start = i
			}
			continue
		}
		if strings.HasPrefix(l, "## ") {
			end = i
			break
		}
	}
	var out string
	if start < 0 {
		out = strings.TrimRight(string(old), "\n")
		if out != "" {
			out += "\n\n"
		}
		out += sec
	} else {
		out = strings.Join(lines[:start], "") + sec
		if end < len(lines) {
			out += "\n" + strings.Join(lines[end:], "")
		}
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// otherStatuses is the count of r's other answers, with their
// statuses when there are any: "12 (503 ×11, 500 ×1)", most first.
func otherStatuses(r *result) string {
	s := count(r.counts[other])
	if len(r.statuses) == 0 {
		return s
	}
	codes := slices.Collect(maps.Keys(r.statuses))
	slices.SortFunc(codes, func(a, b int) int {
		return cmp.Or(cmp.Compare(r.statuses[b], r.statuses[a]), cmp.Compare(a, b))
	})
	var each []string
	for _, c := range codes {
		each = append(each, fmt.Sprintf("%d ×%s", c, count(r.statuses[c])))
	}
	return s + " (" + strings.Join(each, ", ") + ")"
}

// thousands formats a figure rounded to a whole number with thousands
// separators: 20000 → "20,000".
func thousands(f float64) string {
	s := fmt.Sprintf("%.0f", math.Round(f))
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// perSecond formats a rate like thousands, with one decimal below 100:
// an edit run's few requests a second would otherwise round to nothing.
func perSecond(f float64) string {
	if f < 100 {
		return fmt.Sprintf("%.1f", f)
	}
	return thousands(f)
}

// count formats a count with thousands separators.
func count(n int64) string { return thousands(float64(n)) }

// ms formats a latency in milliseconds, with two decimals below 10 ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// cpuMS formats a CPU time per request in milliseconds, to the
// microsecond.
func cpuMS(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

// mib formats bytes in MiB.
func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
