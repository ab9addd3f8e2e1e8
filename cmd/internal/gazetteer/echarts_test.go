package gazetteer

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"unicode/utf16"

	"github.com/paulmach/orb"
)

// encodeEChartsRing is the inverse of DecodeEChartsRing on grid points,
// written from the format's description, for round-trip tests.
func encodeEChartsRing(pts [][2]int, offset [2]int) string {
	var units []uint16
	prev := offset
	for _, p := range pts {
		for k := range 2 {
			d := p[k] - prev[k]
			units = append(units, uint16((d<<1)^(d>>63)+64))
		}
		prev = p
	}
	return string(utf16.Decode(units))
}

func TestDecodeEChartsRing(t *testing.T) {
	tests := []struct {
		name   string
		ring   string
		offset [2]int
		want   []orb.Point
		err    bool
	}{
		{name: "empty", ring: "", offset: [2]int{1, 2}, want: []orb.Point{}},
		{name: "first point is the offset", ring: "@@", offset: [2]int{1024, 2048}, want: []orb.Point{{1, 2}}},
		// 'B' is 2 → +1, 'A' is 1 → −1.
		{name: "zigzag steps", ring: "@@BA", offset: [2]int{1024, 2048},
			want: []orb.Point{{1, 2}, {1025.0 / 1024, 2047.0 / 1024}}},
		// 'D' is 4 → +2, 'C' is 3 → −2; steps accumulate.
		{name: "running sum", ring: "DCDC", offset: [2]int{0, 0},
			want: []orb.Point{{2.0 / 1024, -2.0 / 1024}, {4.0 / 1024, -4.0 / 1024}}},
		// U+0440 is 1088 → 1024 → +512: real rings use non-ASCII code units.
		{name: "large step", ring: "\u0440@", offset: [2]int{110587, 31651},
			want: []orb.Point{{(110587.0 + 512) / 1024, 31651.0 / 1024}}},
		// A rune outside the BMP is two UTF-16 units, as charCodeAt sees it:
		// U+10000 is D800 DC00.
		{name: "surrogate pair", ring: "\U00010000", offset: [2]int{0, 0},
			want: []orb.Point{{float64(unzigzag(0xD800-64)) / 1024, float64(unzigzag(0xDC00-64)) / 1024}}},
		{name: "odd length", ring: "@@@", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeEChartsRing(tt.ring, tt.offset, DefaultEChartsScale)
			if tt.err {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDecodeEChartsRingRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		offset := [2]int{r.IntN(200000) - 100000, r.IntN(100000)}
		var pts [][2]int
		p := offset
		for range r.IntN(50) {
			// Steps stay below the surrogate range, as an encoder's do.
			p = [2]int{p[0] + r.IntN(20001) - 10000, p[1] + r.IntN(20001) - 10000}
			pts = append(pts, p)
		}
		got, err := DecodeEChartsRing(encodeEChartsRing(pts, offset), offset, 1024)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(pts) {
			t.Fatalf("got %d points, want %d", len(got), len(pts))
		}
		for i, q := range pts {
			if want := (orb.Point{float64(q[0]) / 1024, float64(q[1]) / 1024}); got[i] != want {
				t.Fatalf("point %d: got %v, want %v", i, got[i], want)
			}
		}
	}
}

func TestParseGeometry(t *testing.T) {
	square := encodeEChartsRing([][2]int{{0, 0}, {1024, 0}, {1024, 1024}, {0, 1024}}, [2]int{0, 0})
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	tests := []struct {
		name, typ, coords, offsets string
		want                       orb.MultiPolygon
		err                        bool
	}{
		{
			name:   "plain polygon becomes a multipolygon",
			typ:    "Polygon",
			coords: `[[[0,0],[1,0],[1,1],[0,0]]]`,
			want:   orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}},
		},
		{
			name:    "compressed ring is decoded and closed",
			typ:     "Polygon",
			coords:  `[` + str(square) + `]`,
			offsets: `[[0,0]]`,
			want:    orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}}},
		},
		{
			name:    "short hole dropped, short polygon dropped",
			typ:     "MultiPolygon",
			coords:  `[[` + str(square) + `,"@@BB"],["@@BB"]]`,
			offsets: `[[[0,0],[0,0]],[[5,5]]]`,
			want:    orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}}},
		},
		{
			name:   "compressed ring without offsets",
			typ:    "Polygon",
			coords: `[` + str(square) + `]`,
			err:    true,
		},
		{name: "not a polygon", typ: "LineString", coords: `[[0,0],[1,1]]`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var offsets json.RawMessage
			if tt.offsets != "" {
				offsets = json.RawMessage(tt.offsets)
			}
			got, err := ParseGeometry(tt.typ, json.RawMessage(tt.coords), offsets, DefaultEChartsScale)
			if tt.err {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !orb.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzParseGeometry feeds arbitrary coordinates and offsets to the
// ECharts geometry parser: it must not panic, and whatever it returns must
// be made of closed rings of at least four points.
func FuzzParseGeometry(f *testing.F) {
	// Seeds: a plain ring, a compressed ring with its offset, a compressed
	// ring too short to keep, a multipolygon, and malformed input.
	f.Add("Polygon", `[[[0,0],[1,0],[1,1],[0,0]]]`, ``)
	f.Add("Polygon", `["@@DCDCDC@@"]`, `[[110587,31651]]`)
	f.Add("Polygon", `["@@BB"]`, `[[0,0]]`)
	f.Add("MultiPolygon", `[["@@DCDCDC"],[[[0,0],[1,0],[1,1]]]]`, `[[[1,2]],[[0,0]]]`)
	f.Add("Polygon", `["@@@"]`, `[[0,0]]`)
	f.Add("Polygon", `[[[0]]]`, ``)
	f.Fuzz(func(t *testing.T, typ, coords, offsets string) {
		var off json.RawMessage
		if offsets != "" {
			off = json.RawMessage(offsets)
		}
		mp, err := ParseGeometry(typ, json.RawMessage(coords), off, DefaultEChartsScale)
		if err != nil {
			return
		}
		for _, p := range mp {
			for _, r := range p {
				if len(r) < 4 || !r.Closed() {
					t.Fatalf("ring of %d points, closed %v, from %q %q", len(r), r.Closed(), coords, offsets)
				}
			}
		}
	})
}
