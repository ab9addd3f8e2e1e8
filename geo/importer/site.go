package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
)

// A planner turns a proposed site (geo.SuitabilityCandidates) into a
// planned site with the assignments of the villages it takes, in one
// change: the site is checked and written as an import of that one site
// would be, each assignment as its creation would be, and nothing is
// written unless all of it is.

// sqlLockSiteCode serialises creations of one site code: the second finds
// the first's site and is refused, rather than both seeing none and the
// second's upsert overwriting the first's.
const sqlLockSiteCode = `SELECT pg_advisory_xact_lock(hashtext('battlemap.site'), hashtext($1))`

// siteBody is the body of CreateSite.
type siteBody struct {
	Site        json.RawMessage   `json:"site"`
	Assignments []json.RawMessage `json:"assignments"`
}

// CreateSite creates, as actor, the site and the assignments body
// describes, all or nothing: body is a JSON object with "site", a GeoJSON
// Feature with a Point and the site's fields (as an import of sites names
// them), and "assignments", a non-empty array of objects with
// village_code, households and people. The site's status defaults to
// planned, its progress to 0 and its capacity to the households and
// people assigned. It returns the site as geo.SiteByCode reads it.
//
// Errors: EInvalid for a body that is not such an object; EUnprocessable
// naming each field at fault, as "site.name" or "assignments[2].people";
// EConflict when a site with the code exists (or concurrent changes kept
// aborting it); EForbidden for a site or a village outside actor's scope.
func (im *Importer) CreateSite(ctx context.Context, db geo.DB, actor geo.Actor, body []byte) (*geo.Site, error) {
	f, assigned, err := decodeSiteBody(body)
	if err != nil {
		return nil, err
	}
	l := layerNamed(geo.SiteTable.Name)
	var site *geo.Site
	_, err = geo.Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		rec, err := im.checkOne(ctx, tx, l, f)
		if err != nil {
			return prefixFields(err, "site.")
		}
		if _, err := tx.Exec(ctx, sqlLockSiteCode, rec.code); err != nil {
			return fmt.Errorf("create site %s: %w", rec.code, err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, l.sqlExists, rec.code).Scan(&exists); err != nil {
			return fmt.Errorf("create site %s: %w", rec.code, err)
		}
		if exists {
			return geo.Errorf(geo.EConflict, "a site with code %s exists already: choose another code", geo.Quote(rec.code))
		}
		if _, err := l.apply(ctx, tx, []record{rec}); err != nil {
			return prefixFields(fieldOfConstraint(err, geo.SiteTable), "site.")
		}
		for i, a := range assigned {
			a.props["site_code"] = rec.code
			prefix := "assignments[" + strconv.Itoa(i) + "]."
			arec, err := im.checkAssignment(ctx, tx, a)
			if err != nil {
				return prefixFields(err, prefix)
			}
			tag, err := tx.Exec(ctx, sqlInsertAssignment, arec.row[0], arec.row[1], arec.row[2], arec.row[3])
			if err != nil {
				return prefixFields(fieldOfConstraint(err, geo.AssignmentTable), prefix)
			}
			if tag.RowsAffected() == 0 {
				return &geo.Error{Code: geo.EUnprocessable, Message: "the change was not made: a village is assigned twice",
					Fields: []geo.FieldError{{Field: prefix + "village_code", Reason: "is assigned to this site twice"}}}
			}
		}
		site, err = geo.SiteByCode(ctx, tx, rec.code)
		return err
	})
	if err != nil {
		return nil, err
	}
	return site, nil
}

// decodeSiteBody reads CreateSite's body into the site's feature, its
// defaults filled in, and the assignments' features (without their site).
func decodeSiteBody(body []byte) (feature, []feature, error) {
	invalid := func(why string) (feature, []feature, error) {
		return feature{}, nil, geo.Errorf(geo.EInvalid, "the body is not a site with its assignments: %s", why)
	}
	switch {
	case len(body) > maxPatchBytes:
		return feature{}, nil, geo.Errorf(geo.ETooLarge, "the body is larger than %d bytes", maxPatchBytes)
	case !utf8.Valid(body):
		return invalid("invalid UTF-8")
	case !json.Valid(body):
		return invalid("not JSON")
	}
	if path, _, dup := duplicateKey(body); dup {
		return invalid(path + " is given twice")
	}
	var in siteBody
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&in); err != nil {
		return invalid(`want an object with "site", a GeoJSON Feature, and "assignments", an array`)
	}
	if len(in.Site) == 0 || string(in.Site) == "null" {
		return invalid(`"site" is required`)
	}
	if len(in.Assignments) == 0 {
		return invalid(`"assignments" must name at least one village`)
	}
	f := decodeFeature(0, in.Site)
	var assigned []feature
	var households, people int64
	sums := true
	var problems []geo.FieldError
	for i, raw := range in.Assignments {
		var props map[string]any
		if err := json.Unmarshal(raw, &props); err != nil || props == nil {
			return invalid("assignments[" + strconv.Itoa(i) + "] must be an object")
		}
		a := feature{props: map[string]string{}}
		for k, v := range props {
			s, ok := propertyText(v)
			if !ok || (k != "village_code" && k != "households" && k != "people") {
				problems = append(problems, geo.FieldError{Field: "assignments[" + strconv.Itoa(i) + "]." + k,
					Reason: "an assignment takes village_code, households and people, each a string or number"})
				continue
			}
			a.props[k] = s
		}
		h, herr := strconv.ParseInt(a.props["households"], 10, 64)
		p, perr := strconv.ParseInt(a.props["people"], 10, 64)
		if herr != nil || perr != nil {
			sums = false
		}
		households, people = households+h, people+p
		assigned = append(assigned, a)
	}
	if len(problems) > 0 {
		return feature{}, nil, unprocessable(problems)
	}
	defaults := map[string]string{"status": "planned", "progress": "0"}
	if sums {
		defaults["capacity_households"] = strconv.FormatInt(households, 10)
		defaults["capacity_people"] = strconv.FormatInt(people, 10)
	}
	for k, v := range defaults {
		if _, ok := f.props[k]; !ok {
			f.props[k] = v
		}
	}
	return f, assigned, nil
}

// prefixFields puts prefix before the fields an EUnprocessable error
// names, so that they say which part of a body they are in.
func prefixFields(err error, prefix string) error {
	var gerr *geo.Error
	if !errors.As(err, &gerr) || len(gerr.Fields) == 0 {
		return err
	}
	fields := make([]geo.FieldError, len(gerr.Fields))
	for i, fe := range gerr.Fields {
		fields[i] = geo.FieldError{Field: prefix + fe.Field, Reason: fe.Reason}
	}
	return unprocessable(fields)
}
