package web

import (
	"context"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
)

// catalogueDoc is the answer of GET /api/catalogue: geo's catalogue as
// the pages read it, so that the labels they write are the server's.
type catalogueDoc struct {
	Enums       []enumDoc                `json:"enums"`
	Collections []catalogueCollectionDoc `json:"collections"`
	// Edits are, by collection, the fields its features' edit forms
	// show: the stored fields but the id, with what each takes.
	Edits map[string][]editFieldDoc `json:"edits"`
	// FlagRules are the consistency rules, worst first: each one's code,
	// severity, message and statement (geo.FlagRules).
	FlagRules []geo.FlagRule `json:"flag_rules"`
	// FlagFacts name and write the figures in a flag's facts.
	FlagFacts []geo.FlagFact `json:"flag_facts"`
}

// editFieldDoc is a field of an edit form. Kind is "text", "integer",
// "boolean" or "date"; Min and Max bound an integer; Digits makes a text
// a statistical code of that many digits.
type editFieldDoc struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Kind     string `json:"kind"`
	Unit     string `json:"unit,omitempty"`
	Enum     string `json:"enum,omitempty"`
	Required bool   `json:"required"`
	Min      *int64 `json:"min,omitempty"`
	Max      *int64 `json:"max,omitempty"`
	Digits   int    `json:"digits,omitempty"`
}

// fieldKinds names geo's field kinds for the pages.
var fieldKinds = map[geo.FieldKind]string{
	geo.TextField: "text", geo.IntegerField: "integer", geo.BooleanField: "boolean", geo.DateField: "date",
}

// editDocs are t's fields but its key, as edit forms show them.
func editDocs(t *geo.Table) []editFieldDoc {
	var out []editFieldDoc
	for _, f := range t.Fields {
		if f.Name == geo.KeyField {
			continue
		}
		d := editFieldDoc{Name: f.Name, Label: f.Label, Kind: fieldKinds[f.Kind], Unit: f.Unit, Required: f.Required, Digits: f.Digits}
		if f.Enum != nil {
			d.Enum = f.Enum.Name
		}
		if f.Kind == geo.IntegerField {
			d.Min, d.Max = &f.Min, &f.Max
		}
		out = append(out, d)
	}
	return out
}

// enumDoc is an enumeration: each value with its label and, where the
// map colours by it, its colour.
type enumDoc struct {
	Name   string          `json:"name"`
	Title  string          `json:"title"`
	Values []geo.EnumValue `json:"values"`
}

// catalogueCollectionDoc is a collection and its features' properties.
type catalogueCollectionDoc struct {
	ID         string                 `json:"id"`
	Title      string                 `json:"title"`
	Properties []cataloguePropertyDoc `json:"properties"`
}

// cataloguePropertyDoc is a property; Enum names the enumeration of its
// values, "" when they are not enumerated.
type cataloguePropertyDoc struct {
	Name string `json:"name"`
	// Label is the Chinese name of a rolled-up figure (geo.Column.Label).
	Label       string `json:"label,omitempty"`
	Type        string `json:"type"`
	Description string `json:"description"`
	Unit        string `json:"unit,omitempty"`
	Enum        string `json:"enum,omitempty"`
}

// servedCatalogue is what /api/catalogue serves: it is compiled in, so it is
// made once.
var servedCatalogue = newCatalogueDoc()

// newCatalogueDoc is geo.Enums, the rankings' enumerations (what is
// ranked, by which measure), geo.Collections, the edit forms' fields and
// the flags' rules and facts as catalogueDoc.
func newCatalogueDoc() catalogueDoc {
	var d catalogueDoc
	for _, e := range append(slices.Clone(geo.Enums), geo.RankingEnums...) {
		d.Enums = append(d.Enums, enumDoc{Name: e.Name, Title: e.Title, Values: e.Values})
	}
	for _, c := range geo.Collections {
		cd := catalogueCollectionDoc{ID: c.ID, Title: c.Title}
		for _, col := range c.Columns {
			p := cataloguePropertyDoc{Name: col.Name, Label: col.Label, Type: col.Type, Description: col.Description, Unit: col.Unit}
			if col.Enum != nil {
				p.Enum = col.Enum.Name
			}
			cd.Properties = append(cd.Properties, p)
		}
		d.Collections = append(d.Collections, cd)
	}
	d.Edits = map[string][]editFieldDoc{}
	for _, e := range geo.Editable {
		d.Edits[e.Collection] = editDocs(e.Table)
	}
	d.FlagRules, d.FlagFacts = geo.FlagRules, geo.FlagFacts
	return d
}

// catalogue serves GET /api/catalogue, cached and revalidated like every
// other JSON answer.
func (s *Server) catalogue(c *fiber.Ctx) error {
	return s.cachedJSON(c, fiber.MIMEApplicationJSON, func(context.Context) (any, error) { return servedCatalogue, nil })
}
