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
	path   string
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+r.path, nil)
	if err != nil {
		return failed, 0, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return failed, 0, err
	}
	defer resp.Body.Close()
	var head []byte
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		// Reading the start of the body does not stop the rest from being
		// read below: the connection stays reusable.
		if head, err = io.ReadAll(io.LimitReader(resp.Body, statusBodyBytes)); err != nil {
			return failed, 0, err
		}
	}
	n, err := io.Copy(io.Discard, resp.Body)
	switch {
	case err != nil:
		return failed, 0, err
	case resp.StatusCode == http.StatusOK:
		return full, int(n), nil
	case resp.StatusCode == http.StatusNoContent:
		return empty, 0, nil
	}
	return other, len(head) + int(n), &statusError{path: r.path, status: resp.StatusCode, body: string(head)}
}

func (c *httpClient) close() { c.hc.CloseIdleConnections() }

// result is what one run measured.
type result struct {
	name      string
	elapsed   time.Duration
	latencies []time.Duration // every answered request's, sorted
	counts    [failed + 1]int64
	bytes     int64 // body bytes of the full answers
	firstErr  error // of the first failed request
	// statuses counts the other answers by status; firstOther is the
	// first of them, with the start of its body.
	statuses   map[int]int64
	firstOther *statusError

	hwm, rssMax int64   // server runs: VmHWM at the end, greatest VmRSS sampled
	cpu         cpuUsed // cores busy on average during the run
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

// drive sends requests from conns goroutines, each taking the next
// request of the list (round and round) until deadline passes or limit
// requests have been sent (limit 0: no limit). A request already sent
// when the deadline passes is waited for. It stops early, with ctx's
// error, when ctx ends.
func drive(ctx context.Context, c client, reqs []request, conns int, deadline time.Time, limit int64) (*result, error) {
	var (
		next atomic.Int64 // requests handed out so far
		mu   sync.Mutex
		res  = &result{statuses: map[int]int64{}}
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range conns {
		wg.Go(func() {
			var local result
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := next.Add(1) - 1
				if limit > 0 && i >= limit {
					break
				}
				t0 := time.Now()
				out, n, err := c.do(ctx, &reqs[i%int64(len(reqs))])
				lat := time.Since(t0)
				local.counts[out]++
				switch out {
				case failed:
					if local.firstErr == nil && ctx.Err() == nil {
						local.firstErr = err
					}
					continue
				case full:
					local.bytes += int64(n)
				case other:
					local.countStatus(err)
				}
				local.latencies = append(local.latencies, lat)
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, local.latencies...)
			for i := range res.counts {
				res.counts[i] += local.counts[i]
			}
			res.bytes += local.bytes
			if res.firstErr == nil {
				res.firstErr = local.firstErr
			}
			if res.firstOther == nil {
				res.firstOther = local.firstOther
			}
			for status, n := range local.statuses {
				res.statuses[status] += n
			}
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
