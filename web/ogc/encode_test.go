package ogc_test

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// bases are server addresses as a Host header may give them: the envelope
// writes them into JSON strings itself, and must escape what needs it.
var bases = []string{
	"http://example.com",
	"http://例子.测试:8080",
	`http://a"b\c`,
	"http://tab\there\x00\x1f",
	"http://bad\xffutf-8",
	"http://<html>&amp;\u2028",
}

// jsonRoundTrip is s as encoding/json reads back what it writes of s
// (invalid UTF-8 becomes U+FFFD).
func jsonRoundTrip(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back string
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// TestItemsHead writes the envelope of a page before its features and
// reads it back as a client would.
func TestItemsHead(t *testing.T) {
	for _, base := range bases {
		t.Run(base, func(t *testing.T) {
			q, err := ogc.ParseItems(collection(t, "sites"), "bbox=106,27,107,28&status=occupied&limit=2")
			if err != nil {
				t.Fatal(err)
			}
			stamp := time.Date(2016, 6, 30, 8, 0, 0, 0, time.FixedZone("CST", 8*60*60))
			w := ogc.NewItems(q, base, &geo.Features{Matched: 7, Returned: 2, NextCursor: `520302-"S02"`}, stamp)
			head, done, err := w.Append(nil)
			if err != nil || done {
				t.Fatalf("Append: done %v, %v", done, err)
			}
			var got struct {
				Type           string     `json:"type"`
				NumberMatched  int64      `json:"numberMatched"`
				NumberReturned int64      `json:"numberReturned"`
				TimeStamp      string     `json:"timeStamp"`
				Links          []ogc.Link `json:"links"`
				Features       []any      `json:"features"`
			}
			if err := json.Unmarshal(append(head, "]}"...), &got); err != nil {
				t.Fatalf("%s]}: %v", head, err)
			}
			b := jsonRoundTrip(t, base)
			want := []ogc.Link{
				{Href: b + "/collections/sites/items?" + q.Encode(), Rel: "self", Type: ogc.GeoJSONType, Title: "this page"},
				{Href: b + "/collections/sites/items?" + asCSV(q).Encode(), Rel: "alternate", Type: ogc.CSVType, Title: "this page as CSV"},
				{Href: b + "/collections/sites", Rel: "collection", Type: ogc.JSONType, Title: q.Collection.Title},
				{Href: b + "/collections/sites/items?" + q.After(`520302-"S02"`).Encode(), Rel: "next", Type: ogc.GeoJSONType, Title: "the next page"},
			}
			if got.Type != "FeatureCollection" || got.NumberMatched != 7 || got.NumberReturned != 2 ||
				got.TimeStamp != "2016-06-30T00:00:00Z" || len(got.Features) != 0 {
				t.Errorf("head %s", head)
			}
			if !reflect.DeepEqual(got.Links, want) {
				t.Errorf("links\n%v\nwant\n%v", got.Links, want)
			}
		})
	}
}

// TestAppendFeature puts a feature the database wrote in the answer
// about one feature, with its links.
func TestAppendFeature(t *testing.T) {
	c := collection(t, "sites")
	feature := []byte(`{"type":"Feature","id":"a/b","geometry":null,"properties":{"code":"a/b"}}`)
	for _, base := range bases {
		t.Run(base, func(t *testing.T) {
			var got struct {
				ID         string         `json:"id"`
				Properties map[string]any `json:"properties"`
				Links      []ogc.Link     `json:"links"`
			}
			b := ogc.AppendFeature(nil, base, c, "a/b", ogc.FormatJSON, feature)
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			self := jsonRoundTrip(t, base) + "/collections/sites/items/" + url.PathEscape("a/b")
			if got.ID != "a/b" || got.Properties["code"] != "a/b" || len(got.Links) != 2 || got.Links[0].Href != self || got.Links[1].Rel != "collection" {
				t.Errorf("feature %s", b)
			}
		})
	}
	csv := ogc.AppendFeature(nil, "http://x", c, "a/b", ogc.FormatCSV, []byte(`"a/b","x"`))
	if want := "\ufeff" + c.CSVHeader() + "\r\n" + `"a/b","x"` + "\r\n"; string(csv) != want {
		t.Errorf("CSV %q, want %q", csv, want)
	}
}

// asCSV is q asking for CSV.
func asCSV(q ogc.Query) ogc.Query {
	q.Format = ogc.FormatCSV
	return q
}
