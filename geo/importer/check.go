package importer

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"

	"github.com/zunyi/battlemap/geo"
)

// record is a feature after the checks that need no database: the row
// COPY writes (complete only when the feature has no problem), the
// regions it names, which must exist, and where they must lie.
type record struct {
	Position
	code   string
	row    []any // in l.columns() order; the geometry last, as WKB
	refs   []ref
	within []within
	// valid is whether checkShapes found the geometry valid; nil when it
	// did not look (no polygon, or not asked).
	valid *bool
}

// ref is a region a feature names: field holds code, which must be a
// region of level (for "village": a village in the registry).
type ref struct {
	field, level, code string
	// fromCode says that the field was not given and code is its default,
	// the first digits of the feature's code (geo.Field.FromCode): a
	// rejection then names the code.
	fromCode bool
}

// within is a geo.Within rule as one feature has it: the region of field
// (code) must lie in the region of field in (inCode). Where a region lies
// is the hierarchy's to say, which only the database knows, so
// checkRegions applies it.
type within struct {
	field, code string
	in, inCode  string
}

// validate reads data as format and checks every feature against l
// without the database: fields, rules between fields, geometry type,
// finite coordinates inside extent, and codes unique within the file. It
// returns a record for every feature read, every problem found, and
// ETooLarge for more than maxFeatures features. progress, if not nil, is
// called after every progressEvery features checked.
func validate(l *layer, format Format, data []byte, extent *geom.Bounds, maxFeatures int,
	progress func(done, total int)) ([]record, []Rejection, error) {
	var (
		feats    []feature
		rejected []Rejection
		err      error
	)
	switch format {
	case GeoJSON:
		feats, rejected, err = decodeGeoJSON(data, maxFeatures)
	case CSV:
		feats, rejected, err = decodeCSV(data, l, maxFeatures)
	default:
		err = fmt.Errorf("importer: unknown format %d", format)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(feats) == 0 && len(rejected) == 0 {
		rejected = []Rejection{{Reason: "the file holds no features"}}
	}
	recs := make([]record, 0, len(feats))
	first := make(map[string]Position, len(feats))
	for i, f := range feats {
		rec, problems := l.check(f, extent)
		if p, dup := first[rec.code]; dup && rec.code != "" {
			problems = append(problems, Rejection{Position: rec.Position, Code: rec.code, Field: "code",
				Reason: "duplicate code: " + p.String() + " has it too"})
		} else if rec.code != "" {
			first[rec.code] = rec.Position
		}
		recs = append(recs, rec)
		rejected = append(rejected, problems...)
		if progress != nil && (i+1)%progressEvery == 0 {
			progress(i+1, len(feats))
		}
	}
	return recs, rejected, nil
}

// check validates one feature against l. It returns the feature's record
// and its problems, each naming the field at fault.
func (l *layer) check(f feature, extent *geom.Bounds) (record, []Rejection) {
	rec := record{Position: f.Position, code: strings.TrimSpace(f.props[geo.KeyField])}
	problems := f.problems
	reject := func(field, reason string) {
		problems = append(problems, Rejection{Position: f.Position, Field: field, Reason: reason})
	}
	vals := make(map[string]any, len(l.Fields))
	bad := map[string]bool{}
	for i := range l.Fields {
		fd := &l.Fields[i]
		s := strings.TrimSpace(f.props[fd.Name])
		fromCode := false
		if code, ok := vals[geo.KeyField].(string); s == "" && ok && fd.FromCode > 0 && len(code) >= fd.FromCode {
			s, fromCode = code[:fd.FromCode], true // the code was read first, and is good
		}
		if s == "" {
			if fd.Required {
				reject(fd.Name, "required")
				bad[fd.Name] = true
			}
			continue
		}
		v, why := parse(fd, s)
		if why != "" {
			reject(fd.Name, why)
			bad[fd.Name] = true
			continue
		}
		vals[fd.Name] = v
		if fd.Ref != "" {
			rec.refs = append(rec.refs, ref{field: fd.Name, level: fd.Ref, code: v.(string), fromCode: fromCode})
		}
	}
	for _, r := range l.Rules {
		if bad[r.A] || bad[r.B] {
			continue // the field's own problem says enough
		}
		if r.Kind == geo.Within {
			a, hasA := vals[r.A].(string)
			b, hasB := vals[r.B].(string)
			if hasA && hasB {
				rec.within = append(rec.within, within{field: r.A, code: a, in: r.B, inCode: b})
			}
			continue
		}
		if why := checkRule(r, vals); why != "" {
			reject(r.A, why)
		}
	}
	geomWKB := []byte(nil)
	if len(l.Geometries) == 0 {
		// A table without geometry (the relocation assignments).
	} else if f.geomReason != "" {
		reject(f.geomField, f.geomReason)
	} else if b, why := l.checkGeometry(f.geometry, extent); why != "" {
		reject("geometry", why)
	} else {
		geomWKB = b
	}
	for i := range problems {
		problems[i].Code = rec.code
	}
	if len(problems) > 0 {
		return rec, problems
	}
	rec.row = make([]any, 0, len(l.Fields)+1)
	for _, fd := range l.Fields {
		v, ok := vals[fd.Name]
		if !ok {
			v = fd.Default
		}
		rec.row = append(rec.row, v)
	}
	rec.row = append(rec.row, geomWKB)
	return rec, nil
}

// checkGeometry checks that g is one of l's geometry types, not empty,
// two-dimensional, with finite coordinates inside extent (nil: anywhere;
// the database checks each against its own region), and returns it
// as WKB. When g is not acceptable, it returns a reason instead. A height
// (Z) or a measure (M) is refused, not dropped: the layers' columns are
// 2-D, so the number would be lost without a word, and a position of
// three numbers may as well be a mistake of the file's.
func (l *layer) checkGeometry(g geom.T, extent *geom.Bounds) ([]byte, string) {
	if g == nil {
		return nil, "required"
	}
	name := geometryName(g)
	if !slices.Contains(l.Geometries, name) {
		return nil, "must be a " + strings.Join(l.Geometries, " or ") + ", got " + name
	}
	if g.Empty() {
		return nil, "is empty"
	}
	if g.Layout() != geom.XY {
		return nil, "each position must be [lon, lat]: the layers are 2-D and keep no height or measure"
	}
	if why := checkParts(g); why != "" {
		return nil, why
	}
	flat := g.FlatCoords()
	for i := 0; i+1 < len(flat); i += 2 {
		x, y := flat[i], flat[i+1]
		switch {
		case !finite(x) || !finite(y):
			return nil, fmt.Sprintf("position %d is not finite: (%g, %g)", i/2, x, y)
		case extent != nil && !extent.OverlapsPoint(geom.XY, geom.Coord{x, y}):
			return nil, fmt.Sprintf("(%g, %g) lies outside the import extent [%g, %g, %g, %g]",
				x, y, extent.Min(0), extent.Min(1), extent.Max(0), extent.Max(1))
		}
	}
	b, err := wkb.Marshal(g, wkb.NDR)
	if err != nil {
		return nil, "cannot be stored: its coordinates do not make a geometry"
	}
	return b, ""
}

// checkParts checks what GeoJSON asks of g's parts and PostGIS would
// refuse otherwise, with the whole import: a line of two or more
// positions, a polygon's rings closed and of four or more. Whether a
// polygon is valid (its rings do not cross) is PostGIS's to say
// (checkShapes).
func checkParts(g geom.T) string {
	var lines []*geom.LineString
	var rings []*geom.LinearRing
	switch g := g.(type) {
	case *geom.LineString:
		lines = append(lines, g)
	case *geom.MultiLineString:
		for i := range g.NumLineStrings() {
			lines = append(lines, g.LineString(i))
		}
	case *geom.Polygon:
		for i := range g.NumLinearRings() {
			rings = append(rings, g.LinearRing(i))
		}
	case *geom.MultiPolygon:
		for i := range g.NumPolygons() {
			p := g.Polygon(i)
			for j := range p.NumLinearRings() {
				rings = append(rings, p.LinearRing(j))
			}
		}
	}
	for _, l := range lines {
		if l.NumCoords() < 2 {
			return "a line needs two or more positions"
		}
	}
	for _, r := range rings {
		n := r.NumCoords()
		if n < 4 {
			return "a polygon's ring needs four or more positions"
		}
		if first, last := r.Coord(0), r.Coord(n-1); first[0] != last[0] || first[1] != last[1] {
			return "a polygon's ring must end where it begins"
		}
	}
	return ""
}

// geometryName is g's type as GeoJSON names it.
func geometryName(g geom.T) string {
	switch g.(type) {
	case *geom.Point:
		return "Point"
	case *geom.LineString:
		return "LineString"
	case *geom.Polygon:
		return "Polygon"
	case *geom.MultiPoint:
		return "MultiPoint"
	case *geom.MultiLineString:
		return "MultiLineString"
	case *geom.MultiPolygon:
		return "MultiPolygon"
	case *geom.GeometryCollection:
		return "GeometryCollection"
	}
	return "an unknown geometry type" // go-geom reads no other from GeoJSON or WKT
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// sortRejections orders rejections as the file does: problems with the
// whole file first, then by feature index or line, keeping each
// feature's problems in the order found.
func sortRejections(rs []Rejection) {
	key := func(r Rejection) int {
		if r.Index != nil {
			return *r.Index + 1
		}
		return r.Line
	}
	slices.SortStableFunc(rs, func(a, b Rejection) int { return cmp.Compare(key(a), key(b)) })
}
