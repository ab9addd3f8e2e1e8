package geo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
)

// KeyProjectFunds is the size from which a project is a key project,
// inspected one by one (重点检查): 2,000,000 yuan of special funds planned.
const KeyProjectFunds = 2_000_000

// Funds are the special funds of the projects counted in a region, whole
// and by "33112" use (ProjectFundUses), against the split the rule sets,
// and its key projects.
type Funds struct {
	RegionRef
	Projects  int   `json:"projects"`
	Planned   int64 `json:"planned"`
	Disbursed int64 `json:"disbursed"`
	// DisbursementRate is disbursed ÷ planned; nil with nothing planned.
	DisbursementRate *float64 `json:"disbursement_rate"`
	// CompletionAvg is the projects' average completion (%); nil without
	// projects.
	CompletionAvg *float64  `json:"completion_avg"`
	Uses          []FundUse `json:"uses"`
	// KeyThreshold is KeyProjectFunds.
	KeyThreshold int64 `json:"key_threshold"`
	// KeyProjects are the projects of KeyThreshold yuan or more, largest
	// first, each as the projects collection's properties.
	KeyProjects []json.RawMessage `json:"key_projects"`
}

// FundUse is the funds of one use of the split.
type FundUse struct {
	Use   string `json:"fund_use"`
	Label string `json:"label"`
	// RuleShare is the part of all funds the rule gives the use (0–1).
	RuleShare float64 `json:"rule_share"`
	Projects  int     `json:"projects"`
	Planned   int64   `json:"planned"`
	Disbursed int64   `json:"disbursed"`
	// Share is the use's part of the region's planned funds, Deviation
	// that minus RuleShare; both nil with nothing planned.
	Share     *float64 `json:"share"`
	Deviation *float64 `json:"deviation"`
	// DisbursementRate and CompletionAvg are as Funds'.
	DisbursementRate *float64 `json:"disbursement_rate"`
	CompletionAvg    *float64 `json:"completion_avg"`
}

// sqlFundsRegion names the region. sqlFundsByUse sums the projects
// counted in region $1 by use, and all of them (the row whose use is
// NULL), with the ratios the figures use everywhere (share_of,
// average_of): each use's part of the planned funds, its disbursement
// rate, its average completion. Membership is the rollups' (counted_in),
// so these add up to the region's figures.
const (
	sqlFundsRegion = `SELECT code, name, level FROM regions WHERE code = $1`
	sqlFundsByUse  = `
WITH p AS (
    SELECT p.* FROM counted_in(ARRAY[$1::text]) c JOIN projects p ON p.code = c.project_code WHERE c.region_code = $1
), t AS (
    SELECT coalesce(sum(funds_planned), 0)::bigint AS planned FROM p
)
SELECT p.fund_use, count(*)::int, sum(p.funds_planned)::bigint, sum(p.funds_disbursed)::bigint,
       share_of(sum(p.funds_planned)::bigint, t.planned),
       share_of(sum(p.funds_disbursed)::bigint, sum(p.funds_planned)::bigint),
       round(average_of(sum(p.completion)::bigint, count(*)::int)::numeric, 1)::float8
FROM p CROSS JOIN t
GROUP BY GROUPING SETS ((p.fund_use, t.planned), (t.planned))`
)

// sqlKeyProjects reads the key projects with the projects collection's
// select list, so that they say what the collection says of them.
var sqlKeyProjects = `
SELECT to_jsonb(k) FROM (
    SELECT ` + Projects.SelectList() + `
    FROM counted_in(ARRAY[$1::text]) c JOIN projects p ON p.code = c.project_code
    WHERE c.region_code = $1 AND p.funds_planned >= $2
    ORDER BY p.funds_planned DESC, p.code
) k`

// RegionFunds reads the funds of region code, from one snapshot. A
// malformed code is EInvalid; one no region has, ENotFound.
func RegionFunds(ctx context.Context, db DB, code string) (*Funds, error) {
	if err := checkCode(code); err != nil {
		return nil, err
	}
	f := &Funds{KeyThreshold: KeyProjectFunds, KeyProjects: []json.RawMessage{}}
	byUse := map[string]FundUse{}
	b := snapshot(db)
	b.Queue(sqlFundsRegion, code).QueryRow(func(row pgx.Row) error {
		return row.Scan(&f.Code, &f.Name, &f.Level)
	})
	b.Queue(sqlFundsByUse, code).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var use *string
			var u FundUse
			if err := rows.Scan(&use, &u.Projects, &u.Planned, &u.Disbursed, &u.Share, &u.DisbursementRate, &u.CompletionAvg); err != nil {
				return err
			}
			if use == nil {
				f.Projects, f.Planned, f.Disbursed, f.DisbursementRate, f.CompletionAvg =
					u.Projects, u.Planned, u.Disbursed, u.DisbursementRate, u.CompletionAvg
				continue
			}
			byUse[*use] = u
		}
		return rows.Err()
	})
	b.Queue(sqlKeyProjects, code, KeyProjectFunds).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var p json.RawMessage
			if err := rows.Scan(&p); err != nil {
				return err
			}
			f.KeyProjects = append(f.KeyProjects, p)
		}
		return rows.Err()
	})
	err := send(ctx, db, b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Errorf(ENotFound, "no region has the code %s", code)
	}
	if err != nil {
		return nil, fmt.Errorf("funds of %s: %w", code, err)
	}
	for _, v := range ProjectFundUses.Values {
		u := byUse[v.Value]
		u.Use, u.Label, u.RuleShare = v.Value, v.Label, v.Share
		if u.Share != nil {
			d := math.Round((*u.Share-v.Share)*1e4) / 1e4
			u.Deviation = &d
		}
		f.Uses = append(f.Uses, u)
	}
	return f, nil
}
