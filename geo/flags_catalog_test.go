package geo_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestFlagRulesMatch: the catalogue's rules are the table flag_rules',
// code by code with the same severity, and the catalogue lists them
// worst first, as the table ranks them.
func TestFlagRulesMatch(t *testing.T) {
	pool := pgtest.New(t)
	type rule struct {
		Code, Severity string
		Rank           int
	}
	rows, err := pool.Query(context.Background(), `SELECT code, severity, rank FROM flag_rules ORDER BY code`)
	if err != nil {
		t.Fatal(err)
	}
	table, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rule])
	if err != nil {
		t.Fatal(err)
	}
	rank := map[string]int{}
	for _, r := range table {
		rank[r.Code] = r.Rank
		c := geo.FlagRuleOf(r.Code)
		switch {
		case c == nil:
			t.Errorf("flag_rules has %s, the catalogue (geo.FlagRules) does not", r.Code)
		case c.Severity != r.Severity:
			t.Errorf("%s: severity %s in the catalogue, %s in flag_rules", r.Code, c.Severity, r.Severity)
		}
	}
	for i, r := range geo.FlagRules {
		if _, ok := rank[r.Code]; !ok {
			t.Errorf("the catalogue has %s, flag_rules does not", r.Code)
		}
		if i > 0 && rank[r.Code] < rank[geo.FlagRules[i-1].Code] {
			t.Errorf("the catalogue lists %s (rank %d) after %s (rank %d): not worst first", r.Code, rank[r.Code],
				geo.FlagRules[i-1].Code, rank[geo.FlagRules[i-1].Code])
		}
		if !geo.FlagSeverities.Has(r.Severity) || r.Message == "" || r.Statement == "" {
			t.Errorf("%s: severity %q, message %q, statement %q", r.Code, r.Severity, r.Message, r.Statement)
		}
	}
	// The severities' own order is the table's ranks'.
	for i, v := range geo.FlagSeverities.Values {
		for _, r := range table {
			if r.Severity == v.Value && r.Rank != i+1 {
				t.Errorf("severity %s is %d in geo.FlagSeverities, ranked %d in flag_rules", v.Value, i+1, r.Rank)
			}
		}
	}
}

// TestREADMEListsFlagRules: the README documents every rule, by its
// code, with its message and its severity's label.
func TestREADMEListsFlagRules(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	severity := map[string]string{}
	for _, v := range geo.FlagSeverities.Values {
		severity[v.Value] = v.Label
	}
	lines := strings.Split(string(b), "\n")
	for _, r := range geo.FlagRules {
		if !slices.ContainsFunc(lines, func(line string) bool {
			return strings.Contains(line, "`"+r.Code+"`") && strings.Contains(line, r.Message) && strings.Contains(line, severity[r.Severity])
		}) {
			t.Errorf("README.md has no line with the rule `%s`, its message %q and its severity %s", r.Code, r.Message, severity[r.Severity])
		}
	}
}

// TestFlagFactsNamed: every figure in the facts of the flags there are
// has its name and kind in geo.FlagFacts, so the pages can write it.
func TestFlagFactsNamed(t *testing.T) {
	pool := pgtest.New(t)
	rows, err := pool.Query(context.Background(), `SELECT DISTINCT jsonb_object_keys(facts) FROM flags ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no flag has facts: the test compares nothing")
	}
	for _, k := range keys {
		if !slices.ContainsFunc(geo.FlagFacts, func(f geo.FlagFact) bool { return f.Name == k }) {
			t.Errorf("flags' facts have %s, geo.FlagFacts does not name it", k)
		}
	}
}
