package importer

import (
	"testing"

	"github.com/zunyi/battlemap/geo"
)

// FuzzDecodeSiteBody reads arbitrary bytes as the body that creates a
// site with its assignments: it must never panic; what it refuses is a
// client's error (EInvalid, ETooLarge or EUnprocessable naming a field);
// what it takes has at least one assignment, and a site whose status,
// progress and capacity are filled in and pass the site's checks as an
// import's would, or fail them with reasons.
func FuzzDecodeSiteBody(f *testing.F) {
	for _, seed := range []string{
		// A candidate's proposal, as the candidates answer gives it.
		`{"site":{"type":"Feature","geometry":{"type":"Point","coordinates":[106.33,28.33]},"properties":{"code":"520330-S23",` +
			`"name":"官店镇新建安置点S23","type":"rural","county_code":"520330","township_code":"520330112"}},` +
			`"assignments":[{"village_code":"520330112203","households":384,"people":1243}]}`,
		`{"site":null,"assignments":[]}`,
		`{"site":{},"assignments":[{}]}`,
		`{"site":{"type":"Feature"},"assignments":[{"village_code":1,"people":"x"}],"extra":1}`,
		`{"site":{"type":"Feature"},"assignments":[{"village_code":"5","households":1.5,"people":1e300}]}`,
		`{"site":{"type":"Feature"},"site":{},"assignments":[{}]}`,
		`[]`, `null`, `{"assignments":[null]}`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	sites := layerNamed(geo.SiteTable.Name)
	f.Fuzz(func(t *testing.T, body []byte) {
		site, assigned, err := decodeSiteBody(body)
		if err != nil {
			switch geo.ErrorCode(err) {
			case geo.EInvalid, geo.ETooLarge, geo.EUnprocessable:
			default:
				t.Fatalf("decodeSiteBody(%q): %v, want a client's error", body, err)
			}
			return
		}
		if len(assigned) == 0 {
			t.Fatalf("decodeSiteBody(%q) took no assignment", body)
		}
		for _, k := range []string{"status", "progress"} {
			if _, ok := site.props[k]; !ok {
				t.Fatalf("decodeSiteBody(%q): no %s", body, k)
			}
		}
		rec, rejected := sites.check(site, fuzzExtent)
		for _, r := range rejected {
			if r.Reason == "" {
				t.Fatalf("decodeSiteBody(%q): a rejection without a reason: %+v", body, r)
			}
		}
		if len(rejected) == 0 && rec.code == "" {
			t.Fatalf("decodeSiteBody(%q): a site without a code passed", body)
		}
	})
}
