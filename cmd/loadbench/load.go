package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// outcome is how one request ended.
type outcome int

const (
	full   outcome = iota // a body: HTTP 200, or SQL whose body has bytes
	empty                 // no body: HTTP 204, or SQL whose body is empty
	other                 // any other HTTP status
	failed                // no answer: a transport or SQL error
)

// client sends one request and reports how it ended and the body's
// size. Its error is set for failed, and for other, where it is a
// *statusError.
type client interface {
	do(ctx context.Context, r *request) (outcome, int, error)
}

var (
	_ client = sqlClient{}
	_ client = (*httpClient)(nil)
)

// sqlClient runs a request's raw-SQL twin on a pool: what the server
// runs for it, with no HTTP and no encoding around it; or, with ceiling
// set, the request's ceiling.
type sqlClient struct {
	pool    *pgxpool.Pool
	ceiling bool
}

func (c sqlClient) do(ctx context.Context, r *request) (outcome, int, error) {
	run := r.twin
	if c.ceiling {
		run = r.ceiling
	}
	n, err := run(ctx, c.pool)
	switch {
	case err != nil:
		return failed, 0, err
	case n == 0:
		return empty, 0, nil
	}
	return full, n, nil
}

// readRaw reads every row of rows and returns the size of their values,
// the body. The values are taken raw, as they came off the
// wire: decoding them into Go values is the server's work, not the
// database's. It closes rows.
func readRaw(rows pgx.Rows) (int, error) {
	defer rows.Close()
	n := 0
	for rows.Next() {
		for _, v := range rows.RawValues() {
			n += len(v)
		}
	}
	return n, rows.Err()
}

// httpClient asks a server on loopback over keep-alive connections.
type httpClient struct {
	base string // http://127.0.0.1:PORT
	hc   *http.Client
}

// newHTTPClient keeps at most conns connections to 127.0.0.1:port, all
// reused, and never asks for compression: the figures are for the bytes
// the server makes, not for gzip.
func newHTTPClient(port, conns int) *httpClient {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never a proxy from the environment
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: conns,
		MaxIdleConns:        conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	return &httpClient{
		base: fmt.Sprintf("http://127.0.0.1:%d", port),
		hc:   &http.Client{Transport: tr, Timeout: 30 * time.Second},
	}
}

// statusError is an answer whose status is neither 200 nor 204: which
// status, and the start of its body, where a problem+json detail says
// why.
type statusError struct {
	path   string // with the method before it when that is not GET
	status int
	body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.path, e.status, e.body)
}

// statusBodyBytes is how much of an unexpected answer's body a
// statusError keeps: enough for a problem+json detail.
const statusBodyBytes = 512

func (c *httpClient) do(ctx context.Context, r *request) (outcome, int, error) {
	return c.get(ctx, r, io.Discard)
}

// get asks for r as do does, copying the answer's body to body.
func (c *httpClient) get(ctx context.Context, r *request, body io.Writer) (outcome, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+r.path, nil)
	if err != nil {
		return failed, 0, err
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	out, n, _, err := c.send(req, body)
	return out, n, err
}

// send sends req, a request to c's server, copies the answer's body to
// body and reports how it ended, the body's size and the answer's
// header, which is nil when there was no answer. Its error is as do's.
func (c *httpClient) send(req *http.Request, body io.Writer) (outcome, int, http.Header, error) {
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := c.hc.Do(req)
	if err != nil {
		return failed, 0, nil, err
	}
	defer resp.Body.Close()
	var head []byte
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		// Reading the start of the body does not stop the rest from being
		// read below: the connection stays reusable.
		if head, err = io.ReadAll(io.LimitReader(resp.Body, statusBodyBytes)); err != nil {
			return failed, 0, nil, err
		}
	}
	n, err := io.Copy(body, resp.Body)
	switch {
	case err != nil:
		return failed, 0, nil, err
	case resp.StatusCode == http.StatusOK:
		return full, int(n), resp.Header, nil
	case resp.StatusCode == http.StatusNoContent:
		return empty, 0, resp.Header, nil
	}
	path := req.URL.RequestURI()
	if req.Method != http.MethodGet {
		path = req.Method + " " + path
	}
	return other, len(head) + int(n), resp.Header, &statusError{path: path, status: resp.StatusCode, body: string(head)}
}

func (c *httpClient) close() { c.hc.CloseIdleConnections() }

// result is what one run measured.
type result struct {
	name      string
	elapsed   time.Duration
	latencies []time.Duration // every answered request's, sorted
	counts    [failed + 1]int64
	bytes     int64 // body bytes of the full answers
	maxBytes  int64 // the largest full answer's body
	firstErr  error // of the first failed request
	// statuses counts the other answers by status; firstOther is the
	// first of them, with the start of its body.
	statuses   map[int]int64
	firstOther *statusError

	hwm, rssMax int64   // server runs: VmHWM at the end, greatest VmRSS sampled
	cpu         cpuUsed // cores busy on average during the run
	// shared is set when other loads ran beside this one: cpu is what
	// they all used together, which no per-request figure can be made of.
	shared bool
}

// answered is the count of requests answered with or without a body.
func (r *result) answered() int64 { return r.counts[full] + r.counts[empty] }

// rate is answered requests per second.
func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.answered()) / r.elapsed.Seconds()
}

// cpuTime is CPU time spent by the server, PostgreSQL and this load
// generator.
type cpuTime struct{ server, postgres, loadgen time.Duration }

// cpuPerRequest is the CPU time spent on a request answered, on average:
// cores busy times the run's time, over the requests.
func (r *result) cpuPerRequest() (per cpuTime) {
	if r.answered() == 0 {
		return per
	}
	each := func(cores float64) time.Duration {
		return time.Duration(cores * float64(r.elapsed) / float64(r.answered()))
	}
	per.server, per.postgres, per.loadgen = each(r.cpu.server), each(r.cpu.postgres), each(r.cpu.loadgen)
	return per
}

// meanBytes is the mean body size of the answers that had one.
func (r *result) meanBytes() float64 {
	if r.counts[full] == 0 {
		return 0
	}
	return float64(r.bytes) / float64(r.counts[full])
}

// percentile is the latency below which share (0–1) of the requests
// that got an answer, whatever its status, fall (nearest rank).
func (r *result) percentile(share float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(share*float64(len(r.latencies))+0.5) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

// attempt is how one request ended: its outcome, its body's size, the
// time it took, and an error as client.do returns one.
type attempt struct {
	out     outcome
	n       int
	latency time.Duration
	err     error
}

// timed sends r through c and times it.
func timed(ctx context.Context, c client, r *request) attempt {
	t0 := time.Now()
	out, n, err := c.do(ctx, r)
	return attempt{out: out, n: n, latency: time.Since(t0), err: err}
}

// worker sends its next request and reports how it ended; false when it
// has nothing more to send. A worker runs in one goroutine.
type worker func(ctx context.Context) (attempt, bool)

// workload makes the workers of one load, fresh for each run, so that
// every run starts them at the start of their lists.
type workload func() []worker

// requestLoad is conns workers, each taking the next request of reqs
// (round and round) until limit requests have been sent (limit 0: no
// limit).
func requestLoad(c client, reqs []request, conns int, limit int64) workload {
	return func() []worker {
		var next atomic.Int64 // requests handed out so far
		w := func(ctx context.Context) (attempt, bool) {
			i := next.Add(1) - 1
			if limit > 0 && i >= limit {
				return attempt{}, false
			}
			return timed(ctx, c, &reqs[i%int64(len(reqs))]), true
		}
		return slices.Repeat([]worker{w}, conns)
	}
}

// drive runs each of load's workers in a goroutine of its own until
// deadline passes or the worker has nothing more to send. A request
// already sent when the deadline passes is waited for. It stops early,
// with ctx's error, when ctx ends.
func drive(ctx context.Context, load workload, deadline time.Time) (*result, error) {
	var (
		mu  sync.Mutex
		res = &result{statuses: map[int]int64{}}
		wg  sync.WaitGroup
	)
	start := time.Now()
	for _, w := range load() {
		wg.Go(func() {
			var local result
			for ctx.Err() == nil && time.Now().Before(deadline) {
				a, ok := w(ctx)
				if !ok {
					break
				}
				local.counts[a.out]++
				switch a.out {
				case failed:
					if local.firstErr == nil && ctx.Err() == nil {
						local.firstErr = a.err
					}
					continue
				case full:
					local.bytes += int64(a.n)
					local.maxBytes = max(local.maxBytes, int64(a.n))
				case other:
					local.countStatus(a.err)
				}
				local.latencies = append(local.latencies, a.latency)
			}
			mu.Lock()
			defer mu.Unlock()
			res.add(&local)
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.Sort(res.latencies)
	return res, nil
}

// add counts o's requests into r: their latencies, left unsorted for
// the caller to sort once all are in, outcomes, bytes, statuses, and
// first errors where r has none yet.
func (r *result) add(o *result) {
	r.latencies = append(r.latencies, o.latencies...)
	for i := range r.counts {
		r.counts[i] += o.counts[i]
	}
	r.bytes += o.bytes
	r.maxBytes = max(r.maxBytes, o.maxBytes)
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
	if r.firstOther == nil {
		r.firstOther = o.firstOther
	}
	if r.statuses == nil {
		r.statuses = map[int]int64{}
	}
	for status, n := range o.statuses {
		r.statuses[status] += n
	}
}

// merged is the runs rs, one after another, as one run called name:
// their requests, time, peak memory, and CPU use averaged over their
// time.
func merged(name string, rs []*result) *result {
	m := &result{name: name}
	var busy cpuUsed // core-seconds
	for _, r := range rs {
		m.add(r)
		m.elapsed += r.elapsed
		m.hwm, m.rssMax = max(m.hwm, r.hwm), max(m.rssMax, r.rssMax)
		s := r.elapsed.Seconds()
		busy.server += r.cpu.server * s
		busy.postgres += r.cpu.postgres * s
		busy.loadgen += r.cpu.loadgen * s
		busy.rest += r.cpu.rest * s
	}
	slices.Sort(m.latencies)
	if s := m.elapsed.Seconds(); s > 0 {
		m.cpu = cpuUsed{server: busy.server / s, postgres: busy.postgres / s, loadgen: busy.loadgen / s, rest: busy.rest / s}
	}
	return m
}

// countStatus counts the other answer err describes (a *statusError) by
// its status, and keeps the first.
func (r *result) countStatus(err error) {
	var se *statusError
	if !errors.As(err, &se) {
		return
	}
	if r.statuses == nil {
		r.statuses = map[int]int64{}
	}
	r.statuses[se.status]++
	if r.firstOther == nil {
		r.firstOther = se
	}
}
