package ogc_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

func collection(t testing.TB, id string) *geo.Collection {
	t.Helper()
	c, err := geo.CollectionByID(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseItemsNormalizes(t *testing.T) {
	tests := []struct {
		name, collection, raw, want string
	}{
		{"defaults", "villages", "", "limit=100"},
		{"sorted, default f left out", "villages", "status=exited&f=json&county=520322&limit=5", "county=520322&limit=5&status=exited"},
		{"csv kept", "sites", "f=csv", "f=csv&limit=100"},
		{"numbers spelled one way", "projects", "limit=%2B007&completion_lt=050&bbox=1e2,-0,1.5e2,0x1p4", "bbox=100%2C-0%2C150%2C16&completion_lt=50&limit=7"},
		{"cursor escaped", "sites", "cursor=520302-S01", "cursor=520302-S01&limit=100"},
		{"escapes read", "counties", "status=%6eone", "limit=100&status=none"},
		{"bounds inclusive", "townships", "bbox=-180,-90,180,90&limit=10000", "bbox=-180%2C-90%2C180%2C90&limit=10000"},
		{"percent bounds", "sites", "progress_lt=0&progress_gte=100", "limit=100&progress_gte=100&progress_lt=0"},
		{"village filter", "projects", "village=520304116203&township=520304116", "limit=100&township=520304116&village=520304116203"},
		{"bbox with heights", "villages", "bbox=106,27,-100,107,28,9000", "bbox=106%2C27%2C107%2C28&limit=100"},
		{"datetime kept as given", "projects", "datetime=2016-06-01T00:00:00Z/..", "datetime=2016-06-01T00%3A00%3A00Z%2F..&limit=100"},
		{"datetime on a collection without time", "villages", "datetime=2016-06-01", "datetime=2016-06-01&limit=100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ogc.ParseItems(collection(t, tt.collection), tt.raw)
			if err != nil {
				t.Fatalf("ParseItems(%q): %v", tt.raw, err)
			}
			if got := q.Encode(); got != tt.want {
				t.Errorf("ParseItems(%q).Encode() = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestParseItemsRejects(t *testing.T) {
	tests := []struct {
		name, collection, raw string
		// mention must appear in the message: the parameter at fault.
		mention string
	}{
		{"unknown parameter", "villages", "colour=red", `"colour"`},
		{"filter of another collection", "villages", "category=road", `"category"`},
		{"repeated", "villages", "limit=5&limit=6", "limit"},
		{"malformed escape", "villages", "county=%zz", "malformed"},
		{"bbox of three", "villages", "bbox=1,2,3", "bbox"},
		{"bbox of five", "villages", "bbox=1,2,3,4,5", "bbox"},
		{"bbox of seven", "villages", "bbox=1,2,3,4,5,6,7", "bbox"},
		{"bbox heights inverted", "villages", "bbox=106,27,100,107,28,0", "minimum"},
		{"datetime not a time", "projects", "datetime=yesterday", "datetime"},
		{"datetime without zone", "projects", "datetime=2016-06-01T00:00:00", "datetime"},
		{"datetime open instant", "projects", "datetime=..", "instant"},
		{"datetime backwards", "projects", "datetime=2017-01-01/2016-01-01", "start"},
		{"datetime three ends", "projects", "datetime=2016-01-01/2016-02-01/2016-03-01", "datetime"},
		// RFC 3339 has no year 0, and PostgreSQL read it as 1 BC or refused
		// it (SQLSTATE 22008, a 500).
		{"datetime year 0", "projects", "datetime=0000-01-01", "datetime"},
		{"datetime year 0 in an interval", "projects", "datetime=../0000-12-31T23:59:59Z", "1…9999"},
		{"datetime year 1 that is year 0 in China", "projects", "datetime=0001-01-01T00:00:00%2B09:00", "1…9999"},
		{"datetime year 9999 that is 10000 in China", "projects", "datetime=9999-12-31T23:00:00Z/..", "1…9999"},
		{"bbox NaN", "villages", "bbox=NaN,0,1,1", "bbox"},
		{"bbox infinite", "villages", "bbox=-Inf,0,1,1", "bbox"},
		{"bbox empty value", "villages", "bbox=1,,3,4", "bbox"},
		{"bbox longitude", "villages", "bbox=100,0,181,1", "longitudes"},
		{"bbox latitude", "villages", "bbox=0,-91,1,1", "latitudes"},
		{"bbox inverted", "villages", "bbox=108,27,106,28", "minimum"},
		{"limit zero", "villages", "limit=0", "limit"},
		{"limit too large", "villages", "limit=10001", "limit"},
		{"limit not a number", "villages", "limit=abc", "limit"},
		{"cursor with NUL", "villages", "cursor=%00", "cursor"},
		{"cursor empty", "villages", "cursor=", "cursor"},
		{"cursor too long", "villages", "cursor=" + strings.Repeat("9", 65), "cursor"},
		{"format", "villages", "f=xml", "f must be one of json, csv"},
		{"county short", "villages", "county=5203", "6-digit county"},
		{"township short", "sites", "township=520322", "9-digit township"},
		{"village status", "villages", "status=gone", "none, not_exited, exited"},
		{"site status", "sites", "status=not_exited", "planned, under_construction, completed, occupied"},
		{"project status", "projects", "status=occupied", "planned, under_construction, completed"},
		{"site type", "sites", "type=suburban", "urban, town, rural"},
		{"category", "projects", "category=bridge", "category"},
		{"fund use", "projects", "fund_use=loans", "fund_use"},
		{"boolean", "villages", "demonstration=yes", "true or false"},
		{"percent above 100", "projects", "completion_lt=101", "completion_lt"},
		{"percent negative", "sites", "progress_gte=-1", "progress_gte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ogc.ParseItems(collection(t, tt.collection), tt.raw)
			if geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("ParseItems(%q): got %v, want an %s error", tt.raw, err, geo.EInvalid)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("ParseItems(%q): message %q does not mention %q", tt.raw, err, tt.mention)
			}
		})
	}
}

// FuzzParseItems checks the parser of the items' query strings: it never
// panics, every input it rejects gets an EInvalid error, and every input
// it accepts encodes to a normal form that parses back to the same query
// and encodes to itself.
func FuzzParseItems(f *testing.F) {
	seeds := []struct {
		collection uint8 // index into geo.Collections
		raw        string
	}{
		// Nothing given: the first page with the defaults.
		{2, ""},
		// Every general parameter at once.
		{2, "bbox=106,27,108,29&limit=50&cursor=520302001001&f=csv"},
		// Each kind of filter: codes, enumerations, booleans, percentages.
		{2, "county=520322&township=520322002&status=not_exited&demonstration=true"},
		{3, "type=urban&status=occupied&progress_lt=50&progress_gte=10"},
		{4, "category=road&fund_use=industry&completion_lt=100&completion_gte=0&village=520304116203"},
		// Spellings that normalize: plus signs, leading zeros, exponents, hex floats, negative zero.
		{4, "limit=%2B007&completion_lt=050&bbox=1e2,-0,1.5e2,0x1p4"},
		// Boxes with heights, instants and intervals, open or not.
		{4, "bbox=106,27,-10,108,29,10&datetime=2016-06-01T08:00:00%2B08:00"},
		{4, "datetime=../2016-12-31"},
		{4, "datetime=2016-01-01/"},
		{2, "datetime=2016-01-01/2016-12-31"},
		// Years RFC 3339 cannot write, or that China's day moves out of
		// 1…9999: refused; the first and last days there are: accepted.
		{4, "datetime=0000-01-01"},
		{4, "datetime=0000-12-31T23:00:00-01:00/.."},
		{4, "datetime=0001-01-01T00:00:00%2B09:00"},
		{4, "datetime=0001-01-01/9999-12-31"},
		{4, "datetime=9999-12-31T23:00:00Z"},
		// Escapes, plus as space, and a repeated parameter.
		{0, "status=%6eone&status=none"},
		{3, "cursor=520302+S01"},
		// Rejected: out of range, malformed, unknown.
		{1, "bbox=NaN,0,1,1"},
		{1, "bbox=-180.0000001,0,0,0"},
		{1, "limit=0"},
		{1, "limit=10001"},
		{1, "%zz"},
		{1, "a;b"},
		{0, "cursor=%00"},
		{0, "f=xml"},
		{0, "unknown=1"},
	}
	for _, s := range seeds {
		f.Add(s.collection, s.raw)
	}
	f.Fuzz(func(t *testing.T, collection uint8, raw string) {
		c := geo.Collections[int(collection)%len(geo.Collections)]
		q, err := ogc.ParseItems(c, raw)
		if err != nil {
			if geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("ParseItems(%s, %q): error %v is not %s", c.ID, raw, err, geo.EInvalid)
			}
			return
		}
		enc := q.Encode()
		q2, err := ogc.ParseItems(c, enc)
		if err != nil {
			t.Fatalf("ParseItems(%s, %q) accepted, but not its normal form %q: %v", c.ID, raw, enc, err)
		}
		if !reflect.DeepEqual(q, q2) {
			t.Fatalf("ParseItems(%s, %q) = %+v, but its normal form %q parses to %+v", c.ID, raw, q, enc, q2)
		}
		if enc2 := q2.Encode(); enc2 != enc {
			t.Fatalf("normal form %q encodes again as %q", enc, enc2)
		}
	})
}
