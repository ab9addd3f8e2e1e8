package geo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// What changed between two moments under a region, and a village's
// versions over time: both read the history of the rollups, whose
// village rows hold what the drill-down shows of a village
// (village_state, village_record in migrations/015_timeline.sql).

// VillageChange is a village whose state differs between two moments:
// Before and After are village_state's objects, null for a moment when
// the village did not exist.
type VillageChange struct {
	Code   string          `json:"code"`
	Name   string          `json:"name"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// RegionDiff is what changed under a region between two moments: the
// villages whose state differs, and the region's own figures at both
// (region_stocks).
type RegionDiff struct {
	RegionRef
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Figures struct {
		Before json.RawMessage `json:"before"`
		After  json.RawMessage `json:"after"`
	} `json:"figures"`
	Villages []VillageChange `json:"villages"`
}

// sqlChangedVillages lists the villages under region $1 (their lineage
// holds it) whose state differs between the moments $2 and $3 ($2 not
// after $3), by code. A village's state can differ only where its
// version valid at $2 ended by $3, or its version valid at $3 began after
// $2 (a version valid at both is one state): those versions, found by the
// indexes on when versions end and begin, are the only ones compared,
// where a country's 600,000 villages were each read at both moments.
const sqlChangedVillages = `
WITH a AS (
    SELECT h.code, h.name, village_state(h) AS s FROM region_rollups_history h
    WHERE h.level = 'village' AND NOT upper_inf(h.valid) AND h.lineage @> ARRAY[$1::text] AND h.valid @> $2::timestamptz
      AND upper(h.valid) > $2::timestamptz AND upper(h.valid) <= $3::timestamptz
), b AS (
    SELECT h.code, h.name, village_state(h) AS s FROM region_rollups_history h
    WHERE h.level = 'village' AND h.lineage @> ARRAY[$1::text] AND h.valid @> $3::timestamptz
      AND lower(h.valid) > $2::timestamptz AND lower(h.valid) <= $3::timestamptz
)
SELECT coalesce(b.code, a.code), coalesce(b.name, a.name), a.s, b.s
FROM a FULL JOIN b ON b.code = a.code
WHERE a.s IS DISTINCT FROM b.s
ORDER BY 1`

// sqlFiguresAt reads region $1's stocks at the moments $2 and $3, each
// as a JSON object.
const sqlFiguresAt = `SELECT to_jsonb(a), to_jsonb(b) FROM region_stocks($1, $2) a, region_stocks($1, $3) b`

// RegionChanges reads the villages under region code that changed between
// the moments from and to, and its figures at both. A malformed code is
// EInvalid, an unknown one ENotFound. The caller checks the moments
// (ParseMoment, CheckMoment, from not after to).
func RegionChanges(ctx context.Context, db DB, code string, from, to time.Time) (*RegionDiff, error) {
	if err := checkCode(code); err != nil {
		return nil, err
	}
	c := &RegionDiff{From: from.In(DataZone), To: to.In(DataZone), Villages: []VillageChange{}}
	b := snapshot(db)
	b.Queue(sqlRegionRef, code).QueryRow(func(row pgx.Row) error {
		return row.Scan(&c.Code, &c.Name, &c.Level)
	})
	b.Queue(sqlFiguresAt, code, from, to).QueryRow(func(row pgx.Row) error {
		return row.Scan(&c.Figures.Before, &c.Figures.After)
	})
	b.Queue(sqlChangedVillages, code, from, to).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var v VillageChange
			if err := rows.Scan(&v.Code, &v.Name, &v.Before, &v.After); err != nil {
				return err
			}
			c.Villages = append(c.Villages, v)
		}
		return rows.Err()
	})
	if err := send(ctx, db, b); err != nil {
		return nil, regionError(code, err)
	}
	return c, nil
}

// VillageVersion is a version of a village's record (village_record):
// what it was from From to To (nil: it still is), which fields changed
// from the version before (nil for the first), and the audit entries of
// the change that made it.
type VillageVersion struct {
	From     time.Time       `json:"valid_from"`
	To       *time.Time      `json:"valid_to"`
	Record   json.RawMessage `json:"record"`
	Changed  []string        `json:"changed"`
	AuditIDs []int64         `json:"audit_ids"`
}

// VillageHistory is a village's versions, newest first.
type VillageHistory struct {
	RegionRef
	Versions []VillageVersion `json:"versions"`
}

// sqlVillageHistory reads the versions of village $1's record, newest
// first. Consecutive versions of its rollup row with the same record are
// one version of the record (a change to something the record does not
// follow made the later ones); a village gone for a while and back starts
// a version too. A version's audit entries are those its change wrote for
// the village's rows (villages, regions): the same transaction, and the
// latest time of effect by the version's start (a transaction dated in
// steps writes several; one that waited for another's change to the same
// rows began its versions a little after its own start, which its audit
// rows keep: migrations/016_history_under_contention.sql).
const sqlVillageHistory = `
WITH v AS (
    SELECT h.valid, h.txid, h.name, village_record(h) AS r,
           lag(village_record(h)) OVER w AS p, lag(upper(h.valid)) OVER w AS p_end
    FROM region_rollups_history h
    WHERE h.code = $1 AND h.level = 'village'
    WINDOW w AS (ORDER BY lower(h.valid))
), runs AS (
    SELECT v.*, count(*) FILTER (WHERE v.p IS DISTINCT FROM v.r OR v.p_end IS DISTINCT FROM lower(v.valid))
                    OVER (ORDER BY lower(v.valid)) AS run
    FROM v
), versions AS (
    SELECT min(lower(valid)) AS valid_from,
           CASE WHEN NOT bool_or(upper_inf(valid)) THEN max(upper(valid)) END AS valid_to,
           (array_agg(r ORDER BY lower(valid)))[1] AS r, (array_agg(p ORDER BY lower(valid)))[1] AS p,
           (array_agg(txid ORDER BY lower(valid)))[1] AS txid, (array_agg(name ORDER BY lower(valid) DESC))[1] AS name
    FROM runs
    GROUP BY run
)
SELECT g.name, g.valid_from, g.valid_to, g.r,
       CASE WHEN g.p IS NOT NULL THEN
           (SELECT coalesce(array_agg(e.k ORDER BY e.k), '{}') FROM jsonb_each(g.r) e (k, x) WHERE g.p -> e.k IS DISTINCT FROM e.x)
       END,
       (SELECT coalesce(array_agg(a.id ORDER BY a.id), '{}') FROM audit_log a
        WHERE a.txid = g.txid AND a.row_key = $1 AND a.table_name IN ('villages', 'regions')
          AND coalesce(a.valid_from, a.at) = (
              SELECT max(coalesce(b.valid_from, b.at)) FROM audit_log b
              WHERE b.txid = g.txid AND b.row_key = $1 AND b.table_name IN ('villages', 'regions')
                AND coalesce(b.valid_from, b.at) <= g.valid_from))
FROM versions g
ORDER BY g.valid_from DESC`

// VillageHistoryOf reads the versions of village code's record, newest
// first. A code that is not a village's (12 digits) is EInvalid; one no
// village ever had, ENotFound.
func VillageHistoryOf(ctx context.Context, db DB, code string) (*VillageHistory, error) {
	if !regionCode.MatchString(code) || len(code) != villageCodeLen {
		return nil, Errorf(EInvalid, "code must be a village's statistical code of 12 digits (got %s)", Quote(code))
	}
	rows, err := db.Query(ctx, sqlVillageHistory, code)
	if err != nil {
		return nil, fmt.Errorf("history of village %s: %w", code, err)
	}
	h := &VillageHistory{RegionRef: RegionRef{Code: code, Level: "village"}}
	h.Versions, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (VillageVersion, error) {
		var v VillageVersion
		var name string
		err := row.Scan(&name, &v.From, &v.To, &v.Record, &v.Changed, &v.AuditIDs)
		if h.Name == "" {
			h.Name = name // the newest version's name comes first
		}
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("history of village %s: %w", code, err)
	}
	if len(h.Versions) == 0 {
		return nil, Errorf(ENotFound, "no village has or had the code %s", code)
	}
	for i := range h.Versions {
		v := &h.Versions[i]
		v.From = v.From.In(DataZone)
		if v.To != nil {
			*v.To = v.To.In(DataZone)
		}
	}
	return h, nil
}
