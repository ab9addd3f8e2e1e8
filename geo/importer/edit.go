package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
	"github.com/twpayne/go-geom/encoding/wkb"

	"github.com/zunyi/battlemap/geo"
)

// Edits change one feature at a time, through the same checks and the
// same SQL as an import of that one feature: the stored record is read
// (and locked), the patch applied to it, the result checked field by
// field and written by the table's upsert. So an edit can store nothing
// an import could not, and the rules are written once, in the catalogue.

// Edit is a feature as an edit left it.
type Edit struct {
	// ID is the feature's id; "" after a delete.
	ID string
	// Feature is the feature as geo.Item writes it (GeoJSON); nil after a
	// delete.
	Feature []byte
	// ETag is Feature's (geo.ETag); "" after a delete.
	ETag string
	// Version is the data version the edit moved to.
	Version int64
}

// patch is a JSON merge patch (RFC 7396) of a GeoJSON feature: the
// properties it sets (a null removes one) and, when it has one, the
// geometry that replaces the feature's.
type patch struct {
	props    map[string]*string // nil: remove the field
	geometry geom.T
	hasGeom  bool
}

// maxPatchBytes bounds a patch: a feature's fields and a geometry fit in
// far less.
const maxPatchBytes = 1 << 20

// decodePatch reads body as a merge patch of a feature of t: an object
// with "properties" and optionally "geometry" (and "type" "Feature" and
// "id" id, which may be echoed back). A malformed patch is EInvalid; a
// property that is not one of t's fields, or a value no field takes, is
// EUnprocessable naming the field.
func decodePatch(t *geo.Table, id string, body []byte) (*patch, error) {
	invalid := func(why string) error {
		return geo.Errorf(geo.EInvalid, "the body is not a JSON merge patch of a feature: %s", why)
	}
	switch {
	case len(body) > maxPatchBytes:
		return nil, geo.Errorf(geo.ETooLarge, "the patch is larger than %d bytes", maxPatchBytes)
	case !utf8.Valid(body):
		return nil, invalid("invalid UTF-8")
	case !json.Valid(body):
		return nil, invalid("not JSON")
	}
	if path, _, dup := duplicateKey(body); dup {
		return nil, invalid(path + " is given twice")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil, invalid("not a JSON object")
	}
	p := &patch{props: map[string]*string{}}
	var problems []geo.FieldError
	for name, raw := range members {
		switch name {
		case "type":
			var s string
			if json.Unmarshal(raw, &s) != nil || s != "Feature" {
				return nil, invalid(`"type", when given, must be "Feature"`)
			}
		case "id":
			var s string
			if json.Unmarshal(raw, &s) != nil || s != id {
				return nil, invalid(`"id", when given, must be the feature's own, ` + geo.Quote(id))
			}
		case "properties":
			var props map[string]any
			d := json.NewDecoder(bytes.NewReader(raw))
			if err := d.Decode(&props); err != nil || props == nil {
				return nil, invalid(`"properties" must be an object`)
			}
			for k, v := range props {
				if !slices.ContainsFunc(t.Fields, func(f geo.Field) bool { return f.Name == k }) {
					problems = append(problems, geo.FieldError{Field: k, Reason: "is not a field that can be changed; those are " + fieldNames(t)})
					continue
				}
				if v == nil {
					p.props[k] = nil
					continue
				}
				s, ok := propertyText(v)
				if !ok {
					problems = append(problems, geo.FieldError{Field: k, Reason: "must be a string, number or boolean"})
					continue
				}
				p.props[k] = &s
			}
		case "geometry":
			p.hasGeom = true
			if string(raw) == "null" {
				break
			}
			var g geojson.Geometry
			if err := json.Unmarshal(raw, &g); err != nil {
				problems = append(problems, geo.FieldError{Field: "geometry", Reason: "not a GeoJSON geometry: " + jsonProblem(err)})
				break
			}
			gt, err := g.Decode()
			if err != nil {
				problems = append(problems, geo.FieldError{Field: "geometry", Reason: geometryProblem(err)})
				break
			}
			p.geometry = gt
		case "links", "bbox":
			// What a GET gave, sent back: not data.
		default:
			return nil, invalid("unknown member " + geo.Quote(name) + "; a patch has properties and a geometry")
		}
	}
	if len(problems) > 0 {
		return nil, unprocessable(problems)
	}
	return p, nil
}

// fieldNames lists t's fields for a message.
func fieldNames(t *geo.Table) string {
	names := make([]string, len(t.Fields))
	for i, f := range t.Fields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// unprocessable is the EUnprocessable error of problems, in field order.
func unprocessable(problems []geo.FieldError) error {
	slices.SortStableFunc(problems, func(a, b geo.FieldError) int { return strings.Compare(a.Field, b.Field) })
	names := make([]string, 0, len(problems))
	for _, p := range problems {
		if !slices.Contains(names, p.Field) {
			names = append(names, p.Field)
		}
	}
	return &geo.Error{Code: geo.EUnprocessable, Fields: problems,
		Message: "the change was not made: " + strings.Join(names, ", ") + " cannot take the values given"}
}

// checkOne checks one feature f of layer l as an import checks its
// features, its regions and where it lies included: the record to write, or the rejections
// as an EUnprocessable error naming each field at fault.
func (im *Importer) checkOne(ctx context.Context, tx pgx.Tx, l *layer, f feature) (record, error) {
	rec, rejected := l.check(f, im.cfg.Extent)
	var err error
	if len(rejected) == 0 {
		if rejected, err = im.checkRegions(ctx, tx, []record{rec}); err != nil {
			return record{}, err
		}
	}
	if len(rejected) == 0 {
		if rejected, err = checkPlaces(ctx, tx, l, []record{rec}); err != nil {
			return record{}, err
		}
	}
	if len(rejected) > 0 {
		return record{}, rejectionsError(rejected)
	}
	return rec, nil
}

// rejectionsError turns the rejections of one feature into its
// EUnprocessable error.
func rejectionsError(rs []Rejection) error {
	problems := make([]geo.FieldError, len(rs))
	for i, r := range rs {
		problems[i] = geo.FieldError{Field: r.Field, Reason: r.Reason}
	}
	return unprocessable(problems)
}

// apply makes the feature that results from p over the stored record
// (texts in t's field order; nil where a field is not set) and geometry.
func (p *patch) apply(t *geo.Table, texts []*string, g geom.T) (feature, []geo.FieldError) {
	f := feature{props: map[string]string{}, geometry: g}
	for i, fd := range t.Fields {
		if texts[i] != nil {
			f.props[fd.Name] = *texts[i]
		}
	}
	var problems []geo.FieldError
	for k, v := range p.props {
		switch {
		case k == geo.KeyField && (v == nil || *v != f.props[k]):
			problems = append(problems, geo.FieldError{Field: k, Reason: "is the feature's id and cannot change"})
		case v == nil:
			delete(f.props, k)
		default:
			f.props[k] = *v
		}
	}
	if p.hasGeom {
		f.geometry = p.geometry
	}
	return f, problems
}

// Update applies the merge patch body to the feature id of coll (one of
// the collections whose features are stored in a Table: villages, sites,
// projects), as actor, in one transaction: provided that ifMatch is the
// feature's current ETag, it checks the result as an import checks a
// feature and writes it. The database's row-level security decides what
// actor may change: a feature outside the scope is EForbidden, found so
// because PostgreSQL does not let the transaction lock it.
//
// Errors: ENotFound (no such feature), EForbidden, EStale (ifMatch is not
// the current ETag: someone changed it since), EInvalid (a malformed
// patch), EUnprocessable (fields the rules refuse, each named),
// EConflict (concurrent changes kept aborting it).
func (im *Importer) Update(ctx context.Context, db geo.DB, actor geo.Actor, coll *geo.Collection, id, ifMatch string, body []byte) (*Edit, error) {
	l := layerOf(coll)
	if l == nil {
		return nil, geo.Errorf(geo.ENotFound, "the features of %s cannot be changed this way", coll.ID)
	}
	p, err := decodePatch(l.Table, id, body)
	if err != nil {
		return nil, err
	}
	e := &Edit{}
	e.Version, err = geo.Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		texts, g, err := l.lock(ctx, tx, coll, id, ifMatch)
		if err != nil {
			return err
		}
		f, problems := p.apply(l.Table, texts, g)
		if len(problems) > 0 {
			return unprocessable(problems)
		}
		rec, err := im.checkOne(ctx, tx, l, f)
		if err != nil {
			return err
		}
		if _, err := l.apply(ctx, tx, []record{rec}); err != nil {
			return fieldOfConstraint(err, l.Table)
		}
		return e.read(ctx, tx, coll, id)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// read sets e to the feature id of coll as it now is.
func (e *Edit) read(ctx context.Context, tx pgx.Tx, coll *geo.Collection, id string) error {
	f, err := geo.Item(ctx, tx, coll, id, geo.GeoJSON)
	if err != nil {
		return err
	}
	e.ID, e.Feature, e.ETag = id, f, geo.ETag(f)
	return nil
}

// layerOf is the layer storing coll's features, or nil.
func layerOf(coll *geo.Collection) *layer {
	for _, ec := range geo.Editable {
		if ec.Collection == coll.ID {
			return layerNamed(ec.Table.Name)
		}
	}
	return nil
}

// lock reads and locks the stored record of feature id, and checks that
// the feature is still the one ifMatch names.
func (l *layer) lock(ctx context.Context, tx pgx.Tx, coll *geo.Collection, id, ifMatch string) ([]*string, geom.T, error) {
	var texts []*string
	var raw []byte
	err := tx.QueryRow(ctx, l.sqlRecord, id).Scan(&texts, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, l.missing(ctx, tx, coll, id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("edit %s %s: %w", coll.ID, id, err)
	}
	if err := checkETag(ctx, tx, coll, id, ifMatch); err != nil {
		return nil, nil, err
	}
	var g geom.T
	if raw != nil {
		if g, err = wkb.Unmarshal(raw); err != nil {
			return nil, nil, fmt.Errorf("edit %s %s: stored geometry: %w", coll.ID, id, err)
		}
	}
	return texts, g, nil
}

// missing says why the feature id could not be locked: it does not exist,
// or row-level security kept it from this transaction's scope.
func (l *layer) missing(ctx context.Context, tx pgx.Tx, coll *geo.Collection, id string) error {
	var exists bool
	if err := tx.QueryRow(ctx, l.sqlExists, id).Scan(&exists); err != nil {
		return fmt.Errorf("edit %s %s: %w", coll.ID, id, err)
	}
	if exists {
		return geo.Errorf(geo.EForbidden, "%s %s lies outside what you may change", coll.ID, geo.Quote(id))
	}
	return geo.Errorf(geo.ENotFound, "%s has no feature %s", coll.ID, geo.Quote(id))
}

// checkETag is EStale unless ifMatch is the current ETag of feature id.
func checkETag(ctx context.Context, tx pgx.Tx, coll *geo.Collection, id, ifMatch string) error {
	f, err := geo.Item(ctx, tx, coll, id, geo.GeoJSON)
	if err != nil {
		return err
	}
	if now := geo.ETag(f); now != ifMatch {
		return geo.Errorf(geo.EStale, "%s %s was changed since the version you edited (its ETag is now %s): read it again and redo the edit",
			coll.ID, geo.Quote(id), now)
	}
	return nil
}

// constraintFields names, by table edited, the field a constraint of the
// schema is about, for the constraints no rule of the catalogue mirrors:
// those between rows (the people assigned to move out of a village are at
// most its population, which an assignment's people or the village's
// population can break).
var constraintFields = map[string]map[string]string{
	"villages":               {"relocation_assignments_people_within_population": "population"},
	"relocation_assignments": {"relocation_assignments_people_within_population": "people"},
}

// fieldOfConstraint turns the database's refusal of an edit of t into an
// EUnprocessable error naming the field, when a rule of t or
// constraintFields says which it is; anything else is returned as it is
// (geo.Change makes the other constraint errors EInvalid).
func fieldOfConstraint(err error, t *geo.Table) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.HasPrefix(pgErr.Code, "23") {
		return err
	}
	field, ok := constraintFields[t.Name][pgErr.ConstraintName]
	reason := "would break the rule " + pgErr.ConstraintName
	if ok {
		reason = pgErr.Message
	}
	for _, r := range t.Rules {
		if r.Constraint == pgErr.ConstraintName {
			field, ok = r.A, true
		}
	}
	if !ok {
		return err
	}
	return unprocessable([]geo.FieldError{{Field: field, Reason: reason}})
}
