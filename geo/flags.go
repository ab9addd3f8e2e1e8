package geo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Consistency flags (数据核查): rules that find figures which cannot all
// be true. PostgreSQL evaluates them over the data and its history
// (migrations/018_flags.sql: flag_spans), computes the flags of what a
// change touched again at its end, and holds each rule's code
// and severity; the catalogue below holds what the pages, the legend
// and the exports say of each. TestFlagRulesMatch fails when the two
// differ.

// FlagRule is one consistency rule.
type FlagRule struct {
	// Code names it in the data (flags.rule).
	Code string `json:"code"`
	// Severity is one of FlagSeverities.
	Severity string `json:"severity"`
	// Message is what a flag of it says, in Chinese.
	Message string `json:"message"`
	// Statement is the rule in one line, in Chinese.
	Statement string `json:"statement"`
}

// FlagRules are the rules, worst first.
var FlagRules = []FlagRule{
	{Code: "exit_below_standard", Severity: "high", Message: "已出列（摘帽）但未达退出标准",
		Statement: "出列的村、摘帽的乡镇和县，贫困发生率须低于退出标准（西部地区3%）；乡镇、县还须其贫困村按标准比例出列。"},
	{Code: "sudden_cut", Severity: "high", Message: "贫困人口一次骤减超过三分之一（疑似“被脱贫”）",
		Statement: "一个村的贫困人口一次变更减少超过三分之一（且不少于10人），而该村未在同一变更中出列；减少恢复到原数三分之二以上或该村出列时解除。"},
	{Code: "funds_ahead", Severity: "high", Message: "资金拨付超前于工程进度30个百分点以上",
		Statement: "项目已拨付资金占计划资金的百分比，不得比完成进度高出30个百分点以上（钱拨了、活没干）。"},
	{Code: "site_overfilled", Severity: "high", Message: "安置点入住人数超过安排搬迁人数",
		Statement: "安置点已入住人数不得超过安排搬入该安置点的人数。"},
	{Code: "over_assigned", Severity: "high", Message: "安排搬迁人数超过本村户籍人口",
		Statement: "一个村安排搬迁的人数不得超过其户籍人口（数据库亦拒绝此类写入，此规则核查历史）。"},
	{Code: "exit_override", Severity: "medium", Message: "管理员越过退出标准批准出列",
		Statement: "未达退出标准而由管理员书面说明理由批准出列的，保持出列期间一直提示。"},
	{Code: "completion_not_marked", Severity: "medium", Message: "完成进度100%但未标记完工",
		Statement: "项目完成进度为100%时，状态应为已完工。"},
	{Code: "completed_underfunded", Severity: "medium", Message: "已完工但资金拨付不足90%",
		Statement: "已完工的项目，拨付资金应不低于计划资金的90%。"},
	{Code: "site_done_unbuilt", Severity: "medium", Message: "安置点已完工或已入住但建设进度不足100%",
		Statement: "状态为已完工或已入住的安置点，建设进度应为100%。"},
	{Code: "stale_figures", Severity: "low", Message: "贫困人口整季度未更新而项目在推进",
		Statement: "贫困村的贫困人口在一个完整的季度（日历季度）内未变，而其项目进度或拨付在该季度有变化；季度结束时提示，贫困人口再次更新时解除。"},
}

// FlagFact is a figure a rule judged, as a flag's facts name it.
type FlagFact struct {
	// Name is its key in flags.facts.
	Name string `json:"name"`
	// Label is what the pages call it, in Chinese.
	Label string `json:"label"`
	// Kind says how to write it: "count" (with Unit), "percent" (0–100),
	// "share" (0–1, written as a percentage), "money" (yuan), "status"
	// (a value of SiteStatuses, which holds the projects' too), "time"
	// (RFC 3339) or "text".
	Kind string `json:"kind"`
	Unit string `json:"unit,omitempty"`
}

// FlagFacts are the figures the rules put in a flag's facts
// (migrations/018_flags.sql, flag_spans), in the order pages list them.
var FlagFacts = []FlagFact{
	{Name: "population", Label: "户籍人口", Kind: "count", Unit: "人"},
	{Name: "poor_population_before", Label: "变更前贫困人口", Kind: "count", Unit: "人"},
	{Name: "poor_population", Label: "贫困人口", Kind: "count", Unit: "人"},
	{Name: "cut_percent", Label: "减少比例", Kind: "percent"},
	{Name: "incidence", Label: "贫困发生率", Kind: "share"},
	{Name: "max_incidence", Label: "退出标准（发生率低于）", Kind: "share"},
	{Name: "poverty_villages", Label: "贫困村", Kind: "count", Unit: "个"},
	{Name: "exited_villages", Label: "已出列贫困村", Kind: "count", Unit: "个"},
	{Name: "min_villages_exited", Label: "贫困村出列比例标准", Kind: "share"},
	{Name: "status", Label: "状态", Kind: "status"},
	{Name: "completion", Label: "完成进度", Kind: "percent"},
	{Name: "progress", Label: "建设进度", Kind: "percent"},
	{Name: "funds_planned", Label: "计划资金", Kind: "money"},
	{Name: "funds_disbursed", Label: "已拨付资金", Kind: "money"},
	{Name: "disbursed_percent", Label: "拨付比例", Kind: "percent"},
	{Name: "moved_in_people", Label: "已入住", Kind: "count", Unit: "人"},
	{Name: "assigned_people", Label: "安排搬迁", Kind: "count", Unit: "人"},
	{Name: "quarter", Label: "季度", Kind: "text"},
	{Name: "project_moves", Label: "项目进度变化", Kind: "count", Unit: "次"},
	{Name: "unchanged_since", Label: "贫困人口上次更新", Kind: "time"},
	{Name: "reason", Label: "批准理由", Kind: "text"},
	{Name: "actor", Label: "批准人", Kind: "text"},
}

// The enumerations of the flags.
var (
	// FlagSeverities colour the flags on the map, worst first:
	// vermillion, reddish purple, sky blue. "High" shares its vermillion
	// with the villages not exited (Okabe & Ito's eight are all taken):
	// a flag is drawn as a ring around what it is about, a village as a
	// dot, and the legend and lists name the severity in words, so shape
	// and text keep them apart where colour does not.
	FlagSeverities = &Enum{Name: "flag_severity", Title: "严重程度", Constraint: "flag_rules_severity_known", Values: []EnumValue{
		{Value: "high", Label: "严重", Color: "#D55E00"},
		{Value: "medium", Label: "较重", Color: "#CC79A7"},
		{Value: "low", Label: "提示", Color: "#56B4E9"},
	}}
	// FlagRuleCodes are FlagRules as an enumeration: the value its code,
	// the label its message.
	FlagRuleCodes = flagRuleEnum()
	// FlagSubjects are what a flag is about.
	FlagSubjects = &Enum{Name: "flag_subject", Title: "核查对象", Constraint: "flags_subject_known", Values: []EnumValue{
		{Value: "village", Label: "村"}, {Value: "township", Label: "乡镇"}, {Value: "county", Label: "县"},
		{Value: "project", Label: "项目"}, {Value: "site", Label: "安置点"},
	}}
)

// RegistryEventKinds are the events of the poverty registry (有进有出):
// a unit enters it, exits (出列, 摘帽), returns to poverty (返贫) or
// leaves it (migrations/017_exits.sql).
var RegistryEventKinds = &Enum{Name: "registry_event", Title: "贫困退出登记", Constraint: "registry_events_kind_known", Values: []EnumValue{
	{Value: "enter", Label: "纳入"}, {Value: "exit", Label: "退出（出列、摘帽）"},
	{Value: "return", Label: "返贫"}, {Value: "leave", Label: "移出登记"},
}}

// flagRuleEnum is FlagRules as an enumeration.
func flagRuleEnum() *Enum {
	e := &Enum{Name: "flag_rule", Title: "核查规则", Constraint: "flag_rules_code_known"}
	for _, r := range FlagRules {
		e.Values = append(e.Values, EnumValue{Value: r.Code, Label: r.Message})
	}
	return e
}

// FlagRuleOf is the rule of code, or nil.
func FlagRuleOf(code string) *FlagRule {
	for i := range FlagRules {
		if FlagRules[i].Code == code {
			return &FlagRules[i]
		}
	}
	return nil
}

// Flags are the consistency flags as a feature collection: each at its
// subject's point, open (cleared_at null) or cleared.
var Flags = &Collection{
	ID: "flags", Title: "Consistency flags (数据核查)",
	Description: "Figures that cannot all be true, found by rules evaluated in PostgreSQL over the data and its history; " +
		"each flag has when it was raised and, once resolved, when it cleared",
	GeometryType: "Point",
	Columns: []Column{
		{Name: "rule", Label: "核查规则", Type: "string", Enum: FlagRuleCodes, sql: "fl.rule",
			Description: "the rule that raised it"},
		{Name: "severity", Label: "严重程度", Type: "string", Enum: FlagSeverities, sql: "fr.severity",
			Description: "how grave: high, medium, low"},
		{Name: "subject", Label: "核查对象", Type: "string", Enum: FlagSubjects, sql: "fl.subject",
			Description: "what it is about: village, township, county, project, site"},
		{Name: "subject_code", Label: "对象代码", Type: "string", sql: "fl.subject_code", Description: "the code of what it is about"},
		{Name: "name", Label: "名称", Type: "string", sql: "fl.name", Description: "the name of what it is about"},
		{Name: "county_code", Label: "所属县", Type: "string", sql: "fl.county_code", Description: "county"},
		{Name: "raised_at", Label: "发现时间", Type: "string", sql: rfc3339SQL("fl.raised_at"),
			Description: "when the rule first held (RFC 3339, China Standard Time)"},
		{Name: "cleared_at", Label: "解除时间", Type: "string", sql: rfc3339SQL("fl.cleared_at"),
			Description: "when it stopped holding (RFC 3339); null while it holds"},
		{Name: "open", Label: "未解除", Type: "boolean", sql: "fl.cleared_at IS NULL", Description: "it still holds"},
		{Name: "facts", Label: "核查数据", Type: "string", sql: "fl.facts::text",
			Description: "the figures the rule judged when the flag was raised, as JSON"},
	},
	Filters: []Filter{
		countyFilter("fl.county_code"),
		enumFilter("rule", "raised by this rule", FlagRuleCodes, "fl.rule"),
		enumFilter("severity", "of this severity", FlagSeverities, "fr.severity"),
		enumFilter("subject", "about this kind of thing", FlagSubjects, "fl.subject"),
		{Param: "open", Description: "still holding (true) or cleared (false)", kind: boolKind, column: "(fl.cleared_at IS NULL)", op: "="},
		{Param: "subject_code", Description: "about this village, township, county, project or site", kind: textKind("a code"),
			column: "fl.subject_code", op: "="},
	},
	from: "flags fl JOIN flag_rules fr ON fr.code = fl.rule", where: "true", key: "fl.id", geom: "fl.geom",
}

// rfc3339SQL is the SQL of the moment column as RFC 3339 text in the
// data's zone (China Standard Time), or NULL.
func rfc3339SQL(column string) string {
	return `to_char(` + column + ` AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS.US"+08:00"')`
}

// FlagCount is how many flags of a rule hold in a region.
type FlagCount struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Count    int    `json:"count"`
}

// RegionFlagTotal is how many flags hold in a region, by severity.
type RegionFlagTotal struct {
	Code  string `json:"code"`
	Name  string `json:"name"`
	Total int    `json:"total"`
	// High, Medium and Low count them by severity.
	High   int `json:"high"`
	Medium int `json:"medium"`
	Low    int `json:"low"`
}

// RegionFlags are the flags that hold in a region (itself and everything
// under it) and how many.
type RegionFlags struct {
	RegionFlagTotal
	// ByRule counts them by rule, worst first; rules without a flag are
	// left out.
	ByRule []FlagCount `json:"by_rule"`
	// Children are its child regions' counts, worst first (most high,
	// then most medium, then most low); those without flags are left out.
	Children []RegionFlagTotal `json:"children"`
	// Flags are the flags, worst first, then newest; at most
	// MaxRegionFlags of them (Total says how many there are).
	Flags []FlagItem `json:"flags"`
}

// MaxRegionFlags bounds the flags a region's list carries.
const MaxRegionFlags = 500

// FlagItem is one flag as the lists show it.
type FlagItem struct {
	ID          string `json:"id"`
	Rule        string `json:"rule"`
	Severity    string `json:"severity"`
	Subject     string `json:"subject"`
	SubjectCode string `json:"subject_code"`
	Name        string `json:"name"`
	CountyCode  string `json:"county_code"`
	// Lineage are the regions its subject lies in, top down to the
	// finest: a page selects a project's or a site's by its last.
	Lineage   []string        `json:"lineage"`
	RaisedAt  time.Time       `json:"raised_at"`
	ClearedAt *time.Time      `json:"cleared_at"`
	Facts     json.RawMessage `json:"facts"`
}

// The SQL of a region's flags: those that hold, in the region $1 (its
// code is in their lineage). Past reads see the as_of view of flags,
// whose spans cover the moment.
const (
	// sqlRegionFlagCounts counts them: the region's own row (child NULL)
	// and a row per child region with flags, worst first.
	sqlRegionFlagCounts = `
WITH held AS (
    SELECT fl.rule, fr.severity, fl.lineage[array_position(fl.lineage, $1) + 1] AS child
    FROM flags fl JOIN flag_rules fr ON fr.code = fl.rule
    WHERE fl.cleared_at IS NULL AND fl.lineage @> ARRAY[$1]
)
SELECT h.child, coalesce(r.name, ''), count(*)::int,
       (count(*) FILTER (WHERE h.severity = 'high'))::int,
       (count(*) FILTER (WHERE h.severity = 'medium'))::int,
       (count(*) FILTER (WHERE h.severity = 'low'))::int
FROM held h LEFT JOIN regions r ON r.code = h.child
GROUP BY GROUPING SETS ((), (h.child, r.name))
HAVING GROUPING(h.child) = 1 OR h.child IS NOT NULL
ORDER BY GROUPING(h.child) DESC, 4 DESC, 5 DESC, 6 DESC, 1`
	// sqlRegionFlagRules counts them by rule.
	sqlRegionFlagRules = `
SELECT fl.rule, fr.severity, count(*)::int
FROM flags fl JOIN flag_rules fr ON fr.code = fl.rule
WHERE fl.cleared_at IS NULL AND fl.lineage @> ARRAY[$1]
GROUP BY fl.rule, fr.severity, fr.rank
ORDER BY fr.rank, fl.rule`
	// sqlRegionFlagList lists them, worst first, then newest.
	sqlRegionFlagList = `
SELECT fl.id, fl.rule, fr.severity, fl.subject, fl.subject_code, fl.name, fl.county_code, fl.lineage, fl.raised_at, fl.cleared_at, fl.facts
FROM flags fl JOIN flag_rules fr ON fr.code = fl.rule
WHERE fl.cleared_at IS NULL AND fl.lineage @> ARRAY[$1]
ORDER BY fr.rank, fl.raised_at DESC, fl.id
LIMIT $2`
)

// RegionFlagsOf reads the flags that hold in region code now (or as of
// the moment db's reads are at), with counts for it, by rule and for its
// children, all from one snapshot so that they agree while changes
// commit. EInvalid when code is not a statistical code, ENotFound when
// there is no such region.
func RegionFlagsOf(ctx context.Context, db DB, code string) (*RegionFlags, error) {
	if err := checkCode(code); err != nil {
		return nil, err
	}
	out := &RegionFlags{ByRule: []FlagCount{}, Children: []RegionFlagTotal{}, Flags: []FlagItem{}}
	b := snapshot(db)
	b.Queue(`SELECT code, name FROM regions WHERE code = $1`, code).QueryRow(func(row pgx.Row) error {
		return row.Scan(&out.Code, &out.Name)
	})
	b.Queue(sqlRegionFlagCounts, code).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var child *string
			var t RegionFlagTotal
			if err := rows.Scan(&child, &t.Name, &t.Total, &t.High, &t.Medium, &t.Low); err != nil {
				return err
			}
			if child == nil {
				out.Total, out.High, out.Medium, out.Low = t.Total, t.High, t.Medium, t.Low
				continue
			}
			t.Code = *child
			out.Children = append(out.Children, t)
		}
		return rows.Err()
	})
	b.Queue(sqlRegionFlagRules, code).Query(func(rows pgx.Rows) error {
		rules, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FlagCount, error) {
			var c FlagCount
			return c, r.Scan(&c.Rule, &c.Severity, &c.Count)
		})
		out.ByRule = append(out.ByRule, rules...)
		return err
	})
	b.Queue(sqlRegionFlagList, code, MaxRegionFlags).Query(func(rows pgx.Rows) error {
		flags, err := pgx.CollectRows(rows, scanFlagItem)
		out.Flags = append(out.Flags, flags...)
		return err
	})
	err := send(ctx, db, b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Errorf(ENotFound, "there is no region %s", Quote(code))
	}
	if err != nil {
		return nil, fmt.Errorf("flags of %s: %w", code, err)
	}
	return out, nil
}

// scanFlagItem scans a row of the columns sqlRegionFlagList reads.
func scanFlagItem(r pgx.CollectableRow) (FlagItem, error) {
	var f FlagItem
	return f, r.Scan(&f.ID, &f.Rule, &f.Severity, &f.Subject, &f.SubjectCode, &f.Name, &f.CountyCode, &f.Lineage, &f.RaisedAt, &f.ClearedAt, &f.Facts)
}

// FlagDetail is one flag with what lies behind it: the audit rows of the
// change that raised it and of the one that cleared it, about its
// subject.
type FlagDetail struct {
	FlagItem
	// Raised and Cleared are the audit rows of the changes that raised
	// and cleared it that touched its subject or a row under it (at most
	// maxFlagAudit each; none for data loaded before the audit).
	Raised  []AuditEntry `json:"raised_by"`
	Cleared []AuditEntry `json:"cleared_by"`
}

// maxFlagAudit bounds the audit rows a flag's detail lists per change.
const maxFlagAudit = 50

const (
	// sqlFlag reads one flag, whether it holds or not (as of a past
	// moment, only one that held then), and its changes' transactions.
	sqlFlag = `
SELECT fl.id, fl.rule, fr.severity, fl.subject, fl.subject_code, fl.name, fl.county_code, fl.lineage, fl.raised_at, fl.cleared_at, fl.facts,
       fl.raised_txid, fl.cleared_txid
FROM flags fl JOIN flag_rules fr ON fr.code = fl.rule
WHERE fl.id = $1`
	// sqlFlagAudit reads the audit rows of transaction $1 about the row
	// $2 or rows under it, in sqlAuditLog's columns.
	sqlFlagAudit = `
SELECT id, at, actor, action, table_name, row_key, before, after, db_role, data_version
FROM audit_log
WHERE txid = $1 AND (row_key = $2 OR lineage @> ARRAY[$2])
ORDER BY id
LIMIT $3`
)

// Flag reads the flag id with the audit rows behind it. ENotFound when
// there is none.
func Flag(ctx context.Context, db DB, id string) (*FlagDetail, error) {
	rows, err := db.Query(ctx, sqlFlag, id)
	if err != nil {
		return nil, fmt.Errorf("flag %s: %w", id, err)
	}
	var raised, cleared *int64
	d, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (FlagDetail, error) {
		var d FlagDetail
		f := &d.FlagItem
		return d, r.Scan(&f.ID, &f.Rule, &f.Severity, &f.Subject, &f.SubjectCode, &f.Name, &f.CountyCode, &f.Lineage,
			&f.RaisedAt, &f.ClearedAt, &f.Facts, &raised, &cleared)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Errorf(ENotFound, "there is no flag %s", Quote(id))
	}
	if err != nil {
		return nil, fmt.Errorf("flag %s: %w", id, err)
	}
	if d.Raised, err = flagAudit(ctx, db, raised, d.SubjectCode); err != nil {
		return nil, err
	}
	if d.Cleared, err = flagAudit(ctx, db, cleared, d.SubjectCode); err != nil {
		return nil, err
	}
	return &d, nil
}

// flagAudit reads the audit rows of transaction txid about subject; none
// when txid is nil.
func flagAudit(ctx context.Context, db DB, txid *int64, subject string) ([]AuditEntry, error) {
	if txid == nil {
		return []AuditEntry{}, nil
	}
	rows, err := db.Query(ctx, sqlFlagAudit, *txid, subject, maxFlagAudit)
	if err != nil {
		return nil, fmt.Errorf("flag audit: %w", err)
	}
	entries, err := pgx.CollectRows(rows, scanAuditEntry)
	if err != nil {
		return nil, fmt.Errorf("flag audit: %w", err)
	}
	return entries, nil
}
