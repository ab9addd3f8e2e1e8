package geo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reads on streaming replicas. Writes, sign-ins and event streams use the
// primary; an answer read from the database may use a replica instead,
// but only one that has replayed the primary's write-ahead log at least
// as far as the position read with the request's data versions
// (Snapshot.LSN). Those versions are read on the primary after the
// request arrived (strict mode) or after the latest change was announced
// (notified mode), so a replica chosen so shows every change committed
// before the request (in notified mode: every change the versions
// announce), every version a client may have seen in an earlier answer,
// and the answer's own stamp; never older data than the primary would.
//
// Why a position and not the data version: the position covers every
// table at once, those that move no version included, and a replica
// tells its own (pg_last_wal_replay_lsn) without reading any of ours.
//
// A replica that has not replayed that far is waited for, briefly (a
// replica on the same network replays a commit within a millisecond or
// two): Route asks it again every millisecond up to Replicas' wait, then
// gives the read to the primary. A wait that long costs little beside a
// read; a longer one would hold requests behind a replica that may be
// far behind, which the checker takes out of rotation anyway.

// replicaKey is the context key of the replica a request's reads were
// routed to (Replicas.Route).
type replicaKey struct{}

// Replica is one streaming replica of the primary: the pools reads use
// on it, and what the checker last found. Make it with NewReplica.
type Replica struct {
	name string
	// mirrors maps each pool of the primary to this replica's pool made
	// the same way (role, session settings, a past pool's moment), so
	// that a read routed here runs as it would on the primary.
	mirrors map[*pgxpool.Pool]*pgxpool.Pool
	probe   *pgxpool.Pool

	inUse    atomic.Bool
	replayed atomic.Int64 // newest replay position seen
	lag      atomic.Int64 // nanoseconds, as last measured
	reads    atomic.Int64 // requests routed here
	mu       sync.Mutex
	out      string // why it is out of rotation, in a word; "" when in
}

// Why a replica is out of rotation, as /readyz says it: the causes
// themselves (a database's error text) go to the log only.
const (
	outUnchecked   = "not checked yet"
	outUnreachable = "unreachable"
	outLagging     = "lagging"
	outNotReplica  = "not a replica"
)

// NewReplica describes the replica called name (for /readyz and the
// log: no password) whose pools mirror the primary's: mirrors maps each
// pool on the primary to the same pool on the replica. The one that
// mirrors Replicas' primary pool is also the one its position is read on.
func NewReplica(name string, mirrors map[*pgxpool.Pool]*pgxpool.Pool) *Replica {
	return &Replica{name: name, mirrors: mirrors}
}

// Replicas routes reads to the replicas that have caught up with a
// request (see Route), and checks in the background (Run) how far behind
// each one is, taking out of rotation one that fails or lags more than
// the bound and putting it back once it has caught up. A nil *Replicas
// routes everything to the primary.
type Replicas struct {
	primary *pgxpool.Pool
	list    []*Replica
	maxLag  time.Duration
	wait    time.Duration
	log     *slog.Logger

	next      atomic.Uint64 // round robin over the list
	fallbacks atomic.Int64  // reads that waited and went to the primary
	samples   []positionSample
}

// positionSample is the primary's write-ahead log position at a time, by
// which a replica's position is turned into how far behind in time it is.
type positionSample struct {
	at  time.Time
	lsn int64
}

// samplesKept is how many of the primary's positions the checker keeps:
// at four checks per maximum lag, eight times that lag back.
const samplesKept = 32

// sqlPrimaryPosition reads the primary's write-ahead log position as a
// number of bytes. Written, not inserted: a commit is written before it
// is acknowledged (battlemap commits synchronously, PostgreSQL's default),
// and the position of a record still being inserted is one no replica
// could have.
const sqlPrimaryPosition = `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint`

// sqlReplayPosition reads how far a replica has replayed, and whether it
// is a replica at all (a promoted one is not, and may have left the
// primary's history).
const sqlReplayPosition = `SELECT pg_is_in_recovery(), coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0)`

// NewReplicas routes reads between primary (the server's main pool) and
// replicas. A replica lagging more than maxLag is taken out of rotation;
// a read waits up to wait for a replica to catch up with it. Replicas
// start out of rotation until Run has checked them.
func NewReplicas(primary *pgxpool.Pool, replicas []*Replica, maxLag, wait time.Duration, log *slog.Logger) *Replicas {
	for _, m := range replicas {
		m.probe = m.mirrors[primary]
		m.out = outUnchecked
	}
	return &Replicas{primary: primary, list: replicas, maxLag: maxLag, wait: wait, log: log}
}

// checkEvery is how often Run checks the replicas: four times per
// maximum lag, so a replica is out within a quarter of the bound of
// passing it, within bounds that keep the checks cheap.
func (r *Replicas) checkEvery() time.Duration {
	return min(max(r.maxLag/4, 50*time.Millisecond), time.Second)
}

// Run checks the replicas until ctx ends: at once, then every
// checkEvery.
func (r *Replicas) Run(ctx context.Context) {
	if r == nil {
		return
	}
	tick := time.NewTicker(r.checkEvery())
	defer tick.Stop()
	for {
		r.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check reads the primary's position, then each replica's, and puts each
// replica in or out of rotation.
func (r *Replicas) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.checkEvery())
	defer cancel()
	var lsn int64
	if err := r.primary.QueryRow(ctx, sqlPrimaryPosition).Scan(&lsn); err != nil {
		// With the primary down there is nothing to measure against;
		// readiness says so, and the replicas keep their state.
		r.log.Debug("replicas: primary position", slog.Any("err", err))
		return
	}
	r.samples = append(r.samples, positionSample{at: time.Now(), lsn: lsn})
	if len(r.samples) > samplesKept {
		r.samples = slices.Delete(r.samples, 0, len(r.samples)-samplesKept)
	}
	var wg sync.WaitGroup
	for _, m := range r.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replay, err := m.position(ctx)
			// Stored, not advanced: a replica that restarted may be back
			// at a position before the one noted when it went away.
			m.replayed.Store(replay)
			out := outUnreachable
			if errors.Is(err, errNotReplica) {
				out = outNotReplica
			}
			if err == nil {
				lag := lagBehind(r.samples, replay, time.Now())
				m.lag.Store(int64(lag))
				if out = ""; lag > r.maxLag {
					out = outLagging
					err = fmt.Errorf("%s behind the primary, more than the bound of %s", lag.Round(time.Millisecond), r.maxLag)
				}
			}
			r.set(m, out, err)
		}()
	}
	wg.Wait()
}

// lagBehind is how far in time a replica that has replayed up to replay
// is behind, judged by samples of the primary's position (oldest first):
// the time the primary was at replay, between the two samples around it,
// to now. Beyond the oldest sample it is at least the time since then.
func lagBehind(samples []positionSample, replay int64, now time.Time) time.Duration {
	if len(samples) == 0 || replay >= samples[len(samples)-1].lsn {
		return 0
	}
	for i := len(samples) - 2; i >= 0; i-- {
		s, next := samples[i], samples[i+1]
		if s.lsn <= replay {
			frac := float64(replay-s.lsn) / float64(next.lsn-s.lsn)
			return now.Sub(s.at.Add(time.Duration(frac * float64(next.at.Sub(s.at)))))
		}
	}
	return now.Sub(samples[0].at)
}

// position reads how far m has replayed.
func (m *Replica) position(ctx context.Context) (int64, error) {
	var standby bool
	var replay int64
	if err := m.probe.QueryRow(ctx, sqlReplayPosition).Scan(&standby, &replay); err != nil {
		return 0, err
	}
	if !standby {
		return 0, errNotReplica
	}
	return replay, nil
}

// advance notes that m has replayed up to replay, unless a newer
// position is noted already (requests waiting together each read it).
func (m *Replica) advance(replay int64) {
	for {
		old := m.replayed.Load()
		if replay <= old || m.replayed.CompareAndSwap(old, replay) {
			return
		}
	}
}

// errNotReplica is the error of a database given as a replica that is
// none.
var errNotReplica = errors.New("not a streaming replica (not in recovery): promoted, or the primary itself")

// set puts m in rotation when out is "", else out of it for that reason
// (err its cause), logging a change.
func (r *Replicas) set(m *Replica, out string, err error) {
	m.mu.Lock()
	m.out = out
	m.mu.Unlock()
	if out != "" {
		// What it had replayed is forgotten: once back, it is trusted
		// with the position it then says.
		m.replayed.Store(0)
	}
	switch was := m.inUse.Swap(out == ""); {
	case was && out != "":
		r.log.Warn("replica out of rotation; its reads go to the primary", slog.String("replica", m.name),
			slog.String("why", out), slog.Any("err", err))
	case !was && out == "":
		r.log.Info("replica in rotation", slog.String("replica", m.name), slog.Duration("lag", time.Duration(m.lag.Load())))
	}
}

// Route returns ctx routed to a replica in rotation that has replayed
// the primary's position fence (Snapshot.LSN), round robin, waiting up
// to the wait for one to get there; if none does, or none is in
// rotation, ctx unchanged, for the primary. Reads.At then uses the
// chosen replica's pools.
func (r *Replicas) Route(ctx context.Context, fence int64) context.Context {
	if r == nil || len(r.list) == 0 {
		return ctx
	}
	start := int(r.next.Add(1) % uint64(len(r.list)))
	deadline := time.Now().Add(r.wait)
	for polled := false; ; polled = true {
		inUse := false
		for i := range r.list {
			m := r.list[(start+i)%len(r.list)]
			if !m.inUse.Load() {
				continue
			}
			inUse = true
			if m.replayed.Load() < fence && polled {
				// Asked again only when no replica was known to be there:
				// one quick read on the replica, shared with every request
				// that waits for the same position.
				pctx, cancel := context.WithDeadline(ctx, deadline)
				if replay, err := m.position(pctx); err == nil {
					m.advance(replay)
				}
				cancel()
			}
			if m.replayed.Load() >= fence {
				m.reads.Add(1)
				return context.WithValue(ctx, replicaKey{}, m)
			}
		}
		if !inUse {
			return ctx // nothing to wait for
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			r.fallbacks.Add(1)
			return ctx
		}
		if polled {
			time.Sleep(time.Millisecond)
		}
	}
}

// Retry reports whether a read that failed with err, on ctx as Route
// returned it, should be made again on the primary: it ran on a replica
// and the replica failed (it is then taken out of rotation until the
// checker finds it well) or cancelled it to replay the primary's changes
// (a conflict with recovery, which only a replica has).
func (r *Replicas) Retry(ctx context.Context, err error) bool {
	m, ok := ctx.Value(replicaKey{}).(*Replica)
	if !ok || err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01") {
		return true
	}
	if !unavailable(err) || errors.As(err, &pgErr) && pgErr.Code == "57014" {
		return false // the read's own fault, or its statement_timeout: the primary would do no better
	}
	r.set(m, outUnreachable, err)
	return true
}

// onReplica is pool, or its mirror on the replica ctx was routed to.
func onReplica(ctx context.Context, pool *pgxpool.Pool) *pgxpool.Pool {
	if m, _ := ctx.Value(replicaKey{}).(*Replica); m != nil {
		if p, ok := m.mirrors[pool]; ok {
			return p
		}
	}
	return pool
}

// ReplicaStatus is what /readyz says of a replica.
type ReplicaStatus struct {
	Name string `json:"name"`
	// InUse: reads go to it.
	InUse bool `json:"in_use"`
	// LagMS is how far behind the primary it was at the last check, in
	// milliseconds.
	LagMS int64 `json:"lag_ms"`
	// Reads is how many requests' reads it has been given.
	Reads int64 `json:"reads"`
	// Out says why it is out of rotation: "not checked yet",
	// "unreachable", "lagging" or "not a replica" (the log has the
	// cause).
	Out string `json:"out,omitempty"`
}

// Status lists the replicas as the checker last found them, and how many
// reads went to the primary after waiting for a replica in vain.
func (r *Replicas) Status() (list []ReplicaStatus, fallbacks int64) {
	if r == nil {
		return nil, 0
	}
	for _, m := range r.list {
		st := ReplicaStatus{Name: m.name, InUse: m.inUse.Load(), LagMS: time.Duration(m.lag.Load()).Milliseconds(), Reads: m.reads.Load()}
		m.mu.Lock()
		st.Out = m.out
		m.mu.Unlock()
		list = append(list, st)
	}
	return list, r.fallbacks.Load()
}

// ReplicaName is how a replica is named where its password must not be
// shown: host, port and database of its pool.
func ReplicaName(pool *pgxpool.Pool) string {
	cc := pool.Config().ConnConfig
	return cc.Host + ":" + strconv.Itoa(int(cc.Port)) + "/" + cc.Database
}
