package geo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Targets: what a region is to reach in a year (migrations/013_targets.sql),
// set by admins only, audited and kept with its history.

// Bounds of a target's year, as the table's CHECK has them.
const (
	MinTargetYear = 2000
	MaxTargetYear = 2100
)

// TargetVersion is a target as it stood from From to To (nil: it still
// does), and who set it, when the audit says.
type TargetVersion struct {
	From time.Time  `json:"valid_from"`
	To   *time.Time `json:"valid_to"`
	Target
	// ChangedBy is the actor of the change that made the version, and
	// AuditID its audit entry; nil when the audit has none (a version
	// written by plain SQL before the audit kept transactions).
	ChangedBy *string `json:"changed_by"`
	AuditID   *int64  `json:"audit_id"`
}

// RegionTarget is a region's target for a year as it is, and its
// versions, newest first.
type RegionTarget struct {
	YearTarget
	History []TargetVersion `json:"history"`
}

// sqlTargets reads region $1's targets, by year.
const sqlTargets = `
SELECT year, poor_people_out, villages_exit, relocation_people
FROM region_targets WHERE region_code = $1
ORDER BY year`

// sqlTargetHistory reads the versions of region $1's targets, by year and
// newest first, each with the audit row of the change that made it: the
// one its transaction wrote for the target's row (audit_rows keys it
// region/year).
const sqlTargetHistory = `
SELECT h.year, lower(h.valid), upper(h.valid), h.poor_people_out, h.villages_exit, h.relocation_people, a.actor, a.id
FROM region_targets_history h
LEFT JOIN LATERAL (
    SELECT a.id, a.actor FROM audit_log a
    WHERE a.txid = h.txid AND a.table_name = 'region_targets' AND a.row_key = h.region_code || '/' || h.year
    ORDER BY a.id DESC
    LIMIT 1
) a ON true
WHERE h.region_code = $1
ORDER BY h.year, lower(h.valid) DESC`

// Targets are a region's targets, by year.
type Targets struct {
	RegionRef
	Targets []RegionTarget `json:"targets"`
}

// RegionTargets reads region code's targets by year, each with its
// history. A malformed code is EInvalid, an unknown one ENotFound.
func RegionTargets(ctx context.Context, db DB, code string) (*Targets, error) {
	if err := checkCode(code); err != nil {
		return nil, err
	}
	d := &Targets{Targets: []RegionTarget{}}
	b := snapshot(db)
	b.Queue(sqlRegionRef, code).QueryRow(func(row pgx.Row) error {
		return row.Scan(&d.Code, &d.Name, &d.Level)
	})
	b.Queue(sqlTargets, code).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			t := RegionTarget{History: []TargetVersion{}}
			if err := rows.Scan(&t.Year, &t.PoorPeopleOut, &t.VillagesExit, &t.RelocationPeople); err != nil {
				return err
			}
			d.Targets = append(d.Targets, t)
		}
		return rows.Err()
	})
	b.Queue(sqlTargetHistory, code).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var year int
			var v TargetVersion
			if err := rows.Scan(&year, &v.From, &v.To, &v.PoorPeopleOut, &v.VillagesExit, &v.RelocationPeople,
				&v.ChangedBy, &v.AuditID); err != nil {
				return err
			}
			v.From = v.From.In(DataZone)
			if v.To != nil {
				*v.To = v.To.In(DataZone)
			}
			// A year whose target is gone has no entry to hold its past.
			for i := range d.Targets {
				if d.Targets[i].Year == year {
					d.Targets[i].History = append(d.Targets[i].History, v)
				}
			}
		}
		return rows.Err()
	})
	if err := send(ctx, db, b); err != nil {
		return nil, regionError(code, err)
	}
	return d, nil
}

// sqlSetTarget sets region $1's target for year $2; row-level security
// lets only an actor of scope '*' write it.
const sqlSetTarget = `
INSERT INTO region_targets (region_code, year, poor_people_out, villages_exit, relocation_people)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (region_code, year) DO UPDATE
SET poor_people_out = EXCLUDED.poor_people_out, villages_exit = EXCLUDED.villages_exit,
    relocation_people = EXCLUDED.relocation_people
RETURNING year, poor_people_out, villages_exit, relocation_people`

// sqlRegionExists tells whether region $1 exists.
const sqlRegionExists = `SELECT EXISTS (SELECT FROM regions WHERE code = $1)`

// SetTarget sets region code's target for year to t, as actor, through
// Change (so audited and kept in the history), and returns it as stored.
// A malformed code, a year outside MinTargetYear–MaxTargetYear or a
// negative figure is EInvalid; an unknown region ENotFound; an actor who
// is not an admin EForbidden (the database's row-level security says so).
func SetTarget(ctx context.Context, db DB, actor Actor, code string, year int, t Target) (*YearTarget, error) {
	if err := checkCode(code); err != nil {
		return nil, err
	}
	if year < MinTargetYear || year > MaxTargetYear {
		return nil, Errorf(EInvalid, "a target's year runs from %d to %d (got %d)", MinTargetYear, MaxTargetYear, year)
	}
	var stored YearTarget
	_, err := Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, sqlRegionExists, code).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return Errorf(ENotFound, "no region has the code %s", code)
		}
		return tx.QueryRow(ctx, sqlSetTarget, code, year, t.PoorPeopleOut, t.VillagesExit, t.RelocationPeople).Scan(
			&stored.Year, &stored.PoorPeopleOut, &stored.VillagesExit, &stored.RelocationPeople)
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, fmt.Errorf("target of %s for %d: %w", code, year, err)
	}
	return &stored, nil
}
