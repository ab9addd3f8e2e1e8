package gazetteer

import (
	"encoding/json"
	"fmt"
	"unicode/utf16"

	"github.com/paulmach/orb"
)

// County is one county boundary as an ECharts map file has it.
type County struct {
	Code, Name string
	// Label is ECharts' label point ("cp"), which sits on the county town;
	// PlaceSeats puts the county's first township seat there.
	Label orb.Point
	Shape orb.MultiPolygon
}

// Township is one township (乡镇街道) from china-division.
type Township struct {
	Code, Name, CountyCode string
}

// Village is one village or community (村/居委会) from china-division.
type Village struct {
	Code, Name, TownshipCode, CountyCode string
}

// echartsFile is the shape of an ECharts map file. Coordinates stay raw
// because a ring is either an array of positions or a compressed string.
type echartsFile struct {
	UTF8Scale *float64 `json:"UTF8Scale"`
	Features  []struct {
		ID         any `json:"id"`
		Properties struct {
			Name string    `json:"name"`
			CP   []float64 `json:"cp"`
		} `json:"properties"`
		Geometry struct {
			Type          string          `json:"type"`
			Coordinates   json.RawMessage `json:"coordinates"`
			EncodeOffsets json.RawMessage `json:"encodeOffsets"`
		} `json:"geometry"`
	} `json:"features"`
}

// DefaultEChartsScale is ECharts' quantisation: 1/1024 of a degree.
const DefaultEChartsScale = 1024

// ParseCounties reads an ECharts city file into counties, decoding
// compressed rings and turning polygons into multipolygons. A feature
// without an id gets the empty code, one with no polygon left after
// decoding (the package has an empty one) an empty Shape; a feature that
// cannot be decoded is an error.
func ParseCounties(b []byte) ([]County, error) {
	var f echartsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	scale := float64(DefaultEChartsScale)
	if f.UTF8Scale != nil {
		scale = *f.UTF8Scale
	}
	var out []County
	for i, feat := range f.Features {
		var code string
		switch id := feat.ID.(type) {
		case string:
			code = id
		case float64:
			code = fmt.Sprintf("%.0f", id) // a numeric id would otherwise print as 5.20302e+05
		}
		shape, err := ParseGeometry(feat.Geometry.Type, feat.Geometry.Coordinates, feat.Geometry.EncodeOffsets, scale)
		if err != nil {
			return nil, fmt.Errorf("feature %d (%s): %w", i, code, err)
		}
		c := County{Code: code, Name: feat.Properties.Name, Shape: shape}
		if len(feat.Properties.CP) >= 2 {
			c.Label = orb.Point{feat.Properties.CP[0], feat.Properties.CP[1]}
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseGeometry decodes a Polygon or MultiPolygon whose rings may each be
// plain or compressed. Polygons whose outer ring is dropped (fewer than
// four points) are dropped whole, since their holes mean nothing alone.
func ParseGeometry(typ string, coords, offsets json.RawMessage, scale float64) (orb.MultiPolygon, error) {
	switch typ {
	case "Polygon":
		var rings []json.RawMessage
		if err := json.Unmarshal(coords, &rings); err != nil {
			return nil, err
		}
		var offs [][2]int
		if len(offsets) > 0 {
			if err := json.Unmarshal(offsets, &offs); err != nil {
				return nil, fmt.Errorf("encodeOffsets: %w", err)
			}
		}
		p, err := parseRings(rings, offs, scale)
		if err != nil || p == nil {
			return nil, err
		}
		return orb.MultiPolygon{p}, nil
	case "MultiPolygon":
		var polys [][]json.RawMessage
		if err := json.Unmarshal(coords, &polys); err != nil {
			return nil, err
		}
		var offs [][][2]int
		if len(offsets) > 0 {
			if err := json.Unmarshal(offsets, &offs); err != nil {
				return nil, fmt.Errorf("encodeOffsets: %w", err)
			}
		}
		var mp orb.MultiPolygon
		for i, rings := range polys {
			var o [][2]int
			if i < len(offs) {
				o = offs[i]
			}
			p, err := parseRings(rings, o, scale)
			if err != nil {
				return nil, fmt.Errorf("polygon %d: %w", i, err)
			}
			if p != nil {
				mp = append(mp, p)
			}
		}
		return mp, nil
	default:
		return nil, fmt.Errorf("geometry type %q is not a polygon", typ)
	}
}

// parseRings decodes the rings of one polygon; offs[i] is the offset of
// ring i when it is compressed. It returns nil when the outer ring is
// dropped.
func parseRings(rings []json.RawMessage, offs [][2]int, scale float64) (orb.Polygon, error) {
	var p orb.Polygon
	for i, raw := range rings {
		var pts []orb.Point
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			if i >= len(offs) {
				return nil, fmt.Errorf("ring %d is compressed but has no encodeOffsets", i)
			}
			if pts, err = DecodeEChartsRing(s, offs[i], scale); err != nil {
				return nil, fmt.Errorf("ring %d: %w", i, err)
			}
		} else {
			var pos [][]float64
			if err := json.Unmarshal(raw, &pos); err != nil {
				return nil, fmt.Errorf("ring %d: %w", i, err)
			}
			for _, q := range pos {
				if len(q) < 2 {
					return nil, fmt.Errorf("ring %d: position with %d values", i, len(q))
				}
				pts = append(pts, orb.Point{q[0], q[1]})
			}
		}
		if len(pts) < 4 {
			if i == 0 {
				return nil, nil
			}
			continue
		}
		if pts[0] != pts[len(pts)-1] {
			pts = append(pts, pts[0])
		}
		p = append(p, orb.Ring(pts))
	}
	return p, nil
}

// DecodeEChartsRing undoes ECharts' ring compression: each pair of UTF-16
// code units holds the x and y steps from the previous point, each as a
// zigzag-encoded integer plus 64, starting from offset; positions are the
// running sums divided by scale. It works on UTF-16 units, not runes,
// because the encoder used JavaScript's charCodeAt.
func DecodeEChartsRing(s string, offset [2]int, scale float64) ([]orb.Point, error) {
	units := utf16.Encode([]rune(s))
	if len(units)%2 != 0 {
		return nil, fmt.Errorf("compressed ring has an odd length %d", len(units))
	}
	pts := make([]orb.Point, 0, len(units)/2)
	x, y := offset[0], offset[1]
	for i := 0; i < len(units); i += 2 {
		x += unzigzag(int(units[i]) - 64)
		y += unzigzag(int(units[i+1]) - 64)
		pts = append(pts, orb.Point{float64(x) / scale, float64(y) / scale})
	}
	return pts, nil
}

// unzigzag maps 0, 1, 2, 3, 4 … back to 0, -1, 1, -2, 2 ….
func unzigzag(v int) int {
	return (v >> 1) ^ -(v & 1)
}
