package importer

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
)

// Assignments are edited one at a time, by planners: created, changed
// (households and people) and deleted. Their fields are checked as an
// import checks a feature's, against geo.AssignmentTable.

// assignments checks assignments' fields; it writes with the SQL below.
var assignments = &layer{Table: geo.AssignmentTable}

// The SQL of assignments, in one place. Row-level security applies: a
// row outside the scope is not locked, updated or deleted, and a new one
// outside it is refused.
const (
	sqlLockAssignment = `SELECT households::text, people::text FROM relocation_assignments
WHERE village_code = $1 AND site_code = $2 FOR UPDATE`
	sqlAssignmentExists = `SELECT EXISTS (SELECT FROM relocation_assignments WHERE village_code = $1 AND site_code = $2)`
	sqlSiteExists       = `SELECT EXISTS (SELECT FROM sites WHERE code = $1)`
	sqlInsertAssignment = `INSERT INTO relocation_assignments (village_code, site_code, households, people)
VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`
	sqlUpdateAssignment = `UPDATE relocation_assignments SET households = $3, people = $4
WHERE village_code = $1 AND site_code = $2`
	sqlDeleteAssignment = `DELETE FROM relocation_assignments WHERE village_code = $1 AND site_code = $2`
)

// CreateAssignment creates the assignment body describes (a GeoJSON
// feature, or an object with its properties: village_code, site_code,
// households, people), as actor. EConflict when that village is already
// assigned to that site; the other errors are Update's.
func (im *Importer) CreateAssignment(ctx context.Context, db geo.DB, actor geo.Actor, body []byte) (*Edit, error) {
	p, err := decodePatch(geo.AssignmentTable, "", body)
	if err != nil {
		return nil, err
	}
	f, problems := p.apply(geo.AssignmentTable, make([]*string, len(geo.AssignmentTable.Fields)), nil)
	if len(problems) > 0 {
		return nil, unprocessable(problems)
	}
	e := &Edit{}
	e.Version, err = geo.Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		rec, err := im.checkAssignment(ctx, tx, f)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sqlInsertAssignment, rec.row[0], rec.row[1], rec.row[2], rec.row[3])
		if err != nil {
			return fieldOfConstraint(err, geo.AssignmentTable)
		}
		if tag.RowsAffected() == 0 {
			return geo.Errorf(geo.EConflict, "village %s is assigned to site %s already: change that assignment instead", rec.row[0], rec.row[1])
		}
		return e.read(ctx, tx, geo.Assignments, rec.row[0].(string)+geo.AssignmentIDSeparator+rec.row[1].(string))
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// UpdateAssignment applies the merge patch body to the assignment id (its
// households and people; its village and site cannot change), as actor,
// provided ifMatch is its current ETag. Errors are Update's.
func (im *Importer) UpdateAssignment(ctx context.Context, db geo.DB, actor geo.Actor, id, ifMatch string, body []byte) (*Edit, error) {
	village, site, ok := geo.AssignmentID(id)
	if !ok {
		return nil, geo.Errorf(geo.ENotFound, "assignments has no feature %s", geo.Quote(id))
	}
	p, err := decodePatch(geo.AssignmentTable, id, body)
	if err != nil {
		return nil, err
	}
	e := &Edit{}
	e.Version, err = geo.Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		texts, err := lockAssignment(ctx, tx, id, village, site, ifMatch)
		if err != nil {
			return err
		}
		f, problems := p.apply(geo.AssignmentTable, texts, nil)
		for _, k := range []string{"village_code", "site_code"} {
			if f.props[k] != *texts[fieldIndex(geo.AssignmentTable, k)] {
				problems = append(problems, geo.FieldError{Field: k, Reason: "is part of the assignment's id and cannot change: delete it and create another"})
			}
		}
		if len(problems) > 0 {
			return unprocessable(problems)
		}
		rec, err := im.checkAssignment(ctx, tx, f)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlUpdateAssignment, village, site, rec.row[2], rec.row[3]); err != nil {
			return fieldOfConstraint(err, geo.AssignmentTable)
		}
		return e.read(ctx, tx, geo.Assignments, id)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// DeleteAssignment deletes the assignment id, as actor, provided ifMatch
// is its current ETag. Errors are Update's.
func (im *Importer) DeleteAssignment(ctx context.Context, db geo.DB, actor geo.Actor, id, ifMatch string) (*Edit, error) {
	village, site, ok := geo.AssignmentID(id)
	if !ok {
		return nil, geo.Errorf(geo.ENotFound, "assignments has no feature %s", geo.Quote(id))
	}
	e := &Edit{}
	var err error
	e.Version, err = geo.Change(ctx, db, actor, nil, func(tx pgx.Tx) error {
		if _, err := lockAssignment(ctx, tx, id, village, site, ifMatch); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sqlDeleteAssignment, village, site)
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// lockAssignment reads and locks the assignment of village to site, as
// texts in geo.AssignmentTable's field order, and checks that it is still
// the one ifMatch names.
func lockAssignment(ctx context.Context, tx pgx.Tx, id, village, site, ifMatch string) ([]*string, error) {
	var households, people string
	err := tx.QueryRow(ctx, sqlLockAssignment, village, site).Scan(&households, &people)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := tx.QueryRow(ctx, sqlAssignmentExists, village, site).Scan(&exists); err != nil {
			return nil, fmt.Errorf("edit assignment %s: %w", id, err)
		}
		if exists {
			return nil, geo.Errorf(geo.EForbidden, "assignment %s lies outside what you may change", geo.Quote(id))
		}
		return nil, geo.Errorf(geo.ENotFound, "assignments has no feature %s", geo.Quote(id))
	}
	if err != nil {
		return nil, fmt.Errorf("edit assignment %s: %w", id, err)
	}
	if err := checkETag(ctx, tx, geo.Assignments, id, ifMatch); err != nil {
		return nil, err
	}
	return []*string{&village, &site, &households, &people}, nil
}

// checkAssignment checks an assignment's fields and that its village is
// in the registry and its site exists; its record's row holds the values
// in geo.AssignmentTable's field order.
func (im *Importer) checkAssignment(ctx context.Context, tx pgx.Tx, f feature) (record, error) {
	rec, rejected := assignments.check(f, nil)
	if len(rejected) == 0 {
		var err error
		if rejected, err = im.checkRegions(ctx, tx, []record{rec}); err != nil {
			return rec, err
		}
		var exists bool
		if err := tx.QueryRow(ctx, sqlSiteExists, rec.row[1]).Scan(&exists); err != nil {
			return rec, fmt.Errorf("check assignment: %w", err)
		}
		if !exists {
			rejected = append(rejected, Rejection{Field: "site_code", Reason: "no site with code " + quote(rec.row[1].(string))})
		}
	}
	if len(rejected) > 0 {
		return rec, rejectionsError(rejected)
	}
	return rec, nil
}

// fieldIndex is the index of t's field name.
func fieldIndex(t *geo.Table, name string) int {
	for i, f := range t.Fields {
		if f.Name == name {
			return i
		}
	}
	panic("importer: " + t.Name + " has no field " + name)
}
