package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// statusKiB reads a "kB" field (VmRSS, VmHWM, MemTotal…) of a /proc
// status-style file, in bytes.
func statusKiB(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %w", path, field, err)
		}
		return kib << 10, nil
	}
	return 0, fmt.Errorf("%s: no %s", path, field)
}

// rssSampler records the greatest VmRSS of a process, read every 100 ms
// until stopped: VmHWM alone would also count the start and warm-up.
type rssSampler struct {
	pid  int
	quit chan struct{}
	wg   sync.WaitGroup
	max  int64
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, quit: make(chan struct{})}
	s.wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := statusKiB(fmt.Sprintf("/proc/%d/status", pid), "VmRSS"); err == nil {
				s.max = max(s.max, rss)
			}
			select {
			case <-s.quit:
				return
			case <-tick.C:
			}
		}
	})
	return s
}

// stop ends the sampling and returns the greatest VmRSS seen.
func (s *rssSampler) stop() int64 {
	close(s.quit)
	s.wg.Wait()
	return s.max
}

// cpuUsed is how many cores were busy on average over a run, split
// between the server, PostgreSQL, the load generator (this process) and
// the rest of the machine (other people's work, the kernel).
type cpuUsed struct {
	server, postgres, loadgen, rest float64
}

// procs names the processes whose CPU time a run accounts for; 0 for
// one that is not there (no server; a database on another machine).
type procs struct {
	server     int
	postmaster int // PostgreSQL's postmaster: it and its children count
}

// cpuTicks is a reading of the machine's and the processes' CPU time, in
// clock ticks.
type cpuTicks struct {
	total, idle, self, server, postgres uint64
}

// readCPU reads /proc/stat and the stat files of this process and of
// the processes in p.
func readCPU(p procs) (cpuTicks, error) {
	var t cpuTicks
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return t, err
	}
	line, _, _ := strings.Cut(string(b), "\n") // "cpu  user nice system idle iowait …"
	for i, f := range strings.Fields(line)[1:] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return t, fmt.Errorf("/proc/stat: %w", err)
		}
		t.total += n
		if i == 3 || i == 4 { // idle, iowait
			t.idle += n
		}
	}
	if t.self, _, err = procStat("self"); err != nil {
		return t, err
	}
	if p.server > 0 {
		if t.server, _, err = procStat(strconv.Itoa(p.server)); err != nil {
			return t, err
		}
	}
	if p.postmaster > 0 {
		t.postgres, err = treeTicks(p.postmaster)
	}
	return t, err
}

// treeTicks is the CPU time of process pid and its children (not their
// children: PostgreSQL's backends are all the postmaster's). A child
// that exits between the listing and the read is skipped.
func treeTicks(pid int) (uint64, error) {
	ticks, _, err := procStat(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if t, ppid, err := procStat(e.Name()); err == nil && ppid == pid {
			ticks += t
		}
	}
	return ticks, nil
}

// procStat reads /proc/ID/stat: the process's user plus system time in
// clock ticks, and its parent's pid.
func procStat(id string) (ticks uint64, ppid int, err error) {
	path := "/proc/" + id + "/stat"
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	// The command name may hold spaces; the fields after it are fixed:
	// state, ppid, … utime and stime are the 12th and 13th.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("%s: too few fields", path)
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		ticks += n
	}
	return ticks, ppid, nil
}

// since is the CPU used between reading a and reading b, in cores.
func (b cpuTicks) since(a cpuTicks) cpuUsed {
	total := float64(b.total - a.total)
	if total <= 0 {
		return cpuUsed{}
	}
	cores := float64(runtime.NumCPU())
	share := func(ticks uint64) float64 { return float64(ticks) / total * cores }
	busy := (b.total - b.idle) - (a.total - a.idle)
	self, srv, pg := b.self-a.self, b.server-a.server, b.postgres-a.postgres
	var rest uint64
	if busy > self+srv+pg {
		rest = busy - self - srv - pg
	}
	return cpuUsed{server: share(srv), postgres: share(pg), loadgen: share(self), rest: share(rest)}
}
