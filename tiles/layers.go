package tiles

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/zunyi/battlemap/geo"
)

// Field is one attribute of a layer's features, as TileJSON lists it.
type Field struct {
	Name string
	// Type is TileJSON's: "String", "Number" or "Boolean".
	Type        string
	Description string
}

// Layer is one vector tile layer: what it holds at which zoom. Its
// content changes with the zoom in bands; each band is one SELECT whose
// rows become the layer's features.
type Layer struct {
	Name        string
	Description string
	// Collection is the collection whose features the layer draws one by
	// one (from some zoom on), with the same properties; nil for the
	// tiles' own layers.
	Collection *geo.Collection
	MinZoom    int
	MaxZoom    int
	Fields     []Field
	bands      []band
	// args are the values the layer's SQL reads after z, x and y, as $4,
	// $5, …: bound parameters, never written into the SQL.
	args []any
}

// band is the SQL of a layer over a range of zooms. The SELECT sees the
// tile as $1, $2, $3 (z, x, y) and must yield a "geom" column made by
// ST_AsMVTGeom and, when id is set, an integer "id" column. It orders its
// rows so that a tile's bytes, and so its ETag, do not depend on the plan.
type band struct {
	minZoom, maxZoom int
	id               bool
	sql              string
	// with is the level whose inTile table the SELECT reads, which the
	// tile's statement defines once for every band that reads it, or ""
	// for none.
	with string
}

// env and envMargin are the tile's envelope in EPSG:3857, and the same
// grown by the 64-unit buffer that ST_AsMVTGeom keeps around a tile.
const (
	env       = `ST_TileEnvelope($1, $2, $3)`
	envMargin = `ST_TileEnvelope($1, $2, $3, margin => 0.015625)`
)

// mvtGeom clips and quantises geometry g (in EPSG:3857) to the tile.
func mvtGeom(g string) string {
	return `ST_AsMVTGeom(` + g + `, ` + env + `, 4096, 64, true) AS geom`
}

// regionBands draws the polygons of collection c, the regions of level,
// from minZoom to maxZoom, each zoom band reading the boundary simplified
// for it. To zoom 9 (provinces, cities, counties, then townships: a few
// hundred shapes a tile), a band reads the pieces of the shape stored for
// its zoom that lie in the tile, already clipped and quantised to it
// (region_tile_pieces, migrations/034_tile_pieces.sql, of the shapes of
// migrations/030_tile_shapes.sql and 042_county_pieces_z7.sql): clipping
// the points to the tile was most of a tile's cost. From zoom 10 on, the
// spatial filter uses the unsimplified shape's index, which is partial
// per level: the level is written out so the planner picks it. The
// regions above the counties, whose figures are summed as they are read,
// are read from the tile's inTile table, which holds their pieces.
func regionBands(c *geo.Collection, level string, minZoom, maxZoom int) []band {
	var bands []band
	for _, b := range shapeBands {
		if b.max < minZoom || b.min > maxZoom {
			continue
		}
		lo, hi := max(b.min, minZoom), min(b.max, maxZoom)
		switch {
		case !stored(level) && b.shape != tileShape:
			panic(fmt.Sprintf("tiles: %s are summed in the tile from their pieces, which zooms %d–%d do not store", level, lo, hi))
		case !stored(level):
			src := source{from: inTileName(level) + " f", inTile: "f.piece IS NOT NULL", geom: "f.piece", clipped: true, code: "f.code", id: true}
			bd := featureBand(lo, hi, c, src)
			bd.with = level
			bands = append(bands, bd)
		case b.shape == tileShape:
			bands = append(bands, featureBand(lo, hi, c, source{
				from:   "region_tile_pieces tp JOIN rollup_figures f ON f.code = tp.code",
				inTile: pieceInTile + " AND tp.level = '" + level + "' AND f.level = '" + level + "'",
				geom:   b.shape, clipped: true, code: "f.code", id: true,
			}))
		default:
			bands = append(bands, featureBand(lo, hi, c, source{
				from:   "region_shapes sh JOIN rollup_figures f ON f.code = sh.code",
				inTile: "sh.level = '" + level + "' AND f.level = '" + level + "' AND sh.shape && " + envMargin,
				geom:   b.shape, code: "f.code", id: true,
			}))
		}
	}
	return bands
}

// inTile is the SQL of the common table that holds, for a tile, the
// regions of level (above the counties) it draws: those with a piece in
// it (its polygon, as piece) or their point (a summary or a label), the
// two joined in full so that the pieces are read once, each with its
// figures (region_figures), which are its counties' rows summed.
// The tile's layers of level (the polygons, the sites' and the projects'
// summary points) read it, so that each region is summed once a tile
// rather than once a layer: a national tile of zooms 0–3 took 14–19 ms
// and takes 5–7, one of zooms 4–5 5–16 ms and takes 4–11. Each region is
// summed apart (OFFSET 0 keeps the subquery from being merged into the
// join): the planner, which cannot tell how many regions meet a tile,
// would sum every region of the level first.
func inTile(level string) string {
	lv := "'" + level + "'"
	return `SELECT f.*, c.piece
FROM (SELECT code, p.geom AS piece
      FROM (SELECT tp.code, tp.geom FROM region_tile_pieces tp WHERE ` + pieceInTile + ` AND tp.level = ` + lv + `) p
      FULL JOIN (SELECT g.code FROM regions g WHERE g.level = ` + lv + ` AND ST_Transform(g.point, 3857) && ` + envMargin + `) g USING (code)) c
CROSS JOIN LATERAL (SELECT * FROM region_figures f WHERE f.code = c.code AND f.level = ` + lv + ` OFFSET 0) f`
}

// pieceInTile holds for the pieces (region_tile_pieces tp) of the tile.
const pieceInTile = "tp.z = $1 AND tp.x = $2 AND tp.y = $3"

// inTileName is the name of level's inTile table in a tile's statement.
func inTileName(level string) string { return "in_tile_" + level }

// shapeBands are the zooms at which regions are drawn from each of their
// shapes: the pieces of the one stored for the tile's zoom (tileShape),
// that of zoom 10 (simplified to 50 m), then the boundary itself.
var shapeBands = []struct {
	min, max int
	shape    string
}{
	{0, 9, tileShape}, {10, 10, "sh.shape_z10"}, {11, MaxZoom, "sh.shape"},
}

// tileShape stands for a region's shape stored for the tile's zoom,
// read as its pieces in the tile from region_tile_pieces.
const tileShape = "tp.geom"

// stored reports whether the figures of level's regions are stored
// rollups, as those of counties and below are, whose points each level
// indexes; the regions above have their counties' rows summed as they
// are read. The levels are geo.RegionLevels, from the top down.
func stored(level string) bool {
	levels := geo.RegionLevels.Strings()
	return slices.Index(levels, level) >= slices.Index(levels, "county")
}

// clusterBand draws, for each region of level, one point at the region's
// representative point summarising what lies inside it; columns are its
// attributes, and only regions where nonEmpty holds are drawn.
func clusterBand(minZoom, maxZoom int, level, columns, nonEmpty string) band {
	from, with := "rollup_figures r", ""
	if !stored(level) {
		from, with = inTileName(level)+" r", level
	}
	return band{minZoom: minZoom, maxZoom: maxZoom, with: with, sql: `
SELECT r.code AS region_code, r.name AS region_name, true AS cluster, ` + columns + `, ` + mvtGeom("r.point") + `
FROM ` + from + `
WHERE r.level = '` + level + `' AND ` + nonEmpty + ` AND r.point && ` + envMargin + `
ORDER BY r.code`}
}

// The zooms at which each level of regions fills the map: a country's
// provinces fill a screen at zooms 0–3, its cities at 4–5; from 6 on a
// tile holds some hundred counties at most, and from 8 their townships
// as well (at 7, a thousand townships would make a tile too large and
// slow to make, and the style draws them from 8). Below its first zoom a
// level is summarised by the one above it.
const (
	CitiesFrom    = 4
	CountiesFrom  = 6
	TownshipsFrom = 8
)

// clusterBands summarise, to zoom 8, each province, then each city, then
// each county by one point, as the level that fills the map at the zoom.
func clusterBands(columns, nonEmpty string) []band {
	return []band{
		clusterBand(0, CitiesFrom-1, "province", columns, nonEmpty),
		clusterBand(CitiesFrom, CountiesFrom-1, "city", columns, nonEmpty),
		clusterBand(CountiesFrom, 8, "county", columns, nonEmpty),
	}
}

// regionLayer is the layer of the polygons of c, the regions of level,
// from minZoom to maxZoom.
func regionLayer(c *geo.Collection, level string, minZoom, maxZoom int, description string) *Layer {
	return &Layer{
		Name: c.ID, Description: description, Collection: c,
		MinZoom: minZoom, MaxZoom: maxZoom,
		Fields: collectionFields(c),
		bands:  regionBands(c, level, minZoom, maxZoom),
	}
}

// Layers are the battle map's layers, in drawing order (bottom first).
var Layers = []*Layer{
	regionLayer(geo.Provinces, "province", 0, CitiesFrom-1, "Province polygons with their counties' figures summed (zooms 0–3)"),
	regionLayer(geo.Cities, "city", CitiesFrom, CountiesFrom-1, "City polygons with their counties' figures summed (zooms 4–5)"),
	regionLayer(geo.Counties, "county", CountiesFrom, MaxZoom,
		"County polygons with the rolled-up figures of their villages, sites and projects (zoom 6 and up)"),
	regionLayer(geo.Townships, "township", TownshipsFrom, MaxZoom,
		"Township polygons with the rolled-up figures of their villages, sites and projects (zoom 8 and up)"),
	{
		Name:        "hazard_zones",
		Description: "Geological hazard zones (地质灾害隐患区) by kind and risk level (zoom 8 and up)",
		Collection:  geo.HazardZones,
		MinZoom:     8, MaxZoom: MaxZoom,
		Fields: collectionFields(geo.HazardZones),
		bands:  []band{featureBand(8, MaxZoom, geo.HazardZones, tableSource("hazard_zones h", "h"))},
	},
	{
		Name:        "roads",
		Description: "Roads by class, from expressways to village roads (zoom 8 and up)",
		Collection:  geo.Roads,
		MinZoom:     8, MaxZoom: MaxZoom,
		Fields: collectionFields(geo.Roads),
		bands:  []band{featureBand(8, MaxZoom, geo.Roads, tableSource("roads r", "r"))},
	},
	{
		Name:        "flows",
		Description: "Relocation assignments: a line from each village to the site its people move to",
		MinZoom:     9, MaxZoom: MaxZoom,
		Fields: []Field{
			{"village_code", "String", "village people move from"},
			{"site_code", "String", "site they move to"},
			{"households", "Number", "households assigned"},
			{"people", "Number", "people assigned"},
		},
		bands: []band{{minZoom: 9, maxZoom: MaxZoom, sql: `
SELECT f.village_code, f.site_code, f.households, f.people, ` + mvtGeom("f.geom") + `
FROM flows f WHERE f.geom && ` + envMargin + `
ORDER BY f.village_code, f.site_code`}},
	},
	{
		Name:        "projects",
		Description: "Funded projects; below zoom 11 one summary point per province (to 3), city (4–5), county (6–8) or township (9–10)",
		Collection:  geo.Projects,
		MinZoom:     0, MaxZoom: MaxZoom,
		Fields: append(collectionFields(geo.Projects),
			Field{"cluster", "Boolean", "a summary point: completion is then the average"},
			Field{"region_code", "String", "summary point: the region summarised"},
			Field{"region_name", "String", "summary point: its name"},
			Field{"projects", "Number", "summary point: projects"},
			Field{"projects_completed", "Number", "summary point: projects completed"},
		),
		bands: append(clusterBands(projectClusterColumns, "r.projects > 0"),
			clusterBand(9, 10, "township", projectClusterColumns, "r.projects > 0"),
			featureBand(11, MaxZoom, geo.Projects, tableSource("projects p", "p"))),
	},
	{
		Name:        "services",
		Description: "Schools, clinics and markets (zoom 10 and up)",
		Collection:  geo.Services,
		MinZoom:     10, MaxZoom: MaxZoom,
		Fields: collectionFields(geo.Services),
		bands:  []band{featureBand(10, MaxZoom, geo.Services, tableSource("services sv", "sv"))},
	},
	{
		Name:        "sites",
		Description: "Relocation sites; below zoom 9 one summary point per province (to 3), city (4–5) or county (6–8)",
		Collection:  geo.Sites,
		MinZoom:     0, MaxZoom: MaxZoom,
		Fields: append(collectionFields(geo.Sites),
			Field{"cluster", "Boolean", "a summary point: progress is then the average"},
			Field{"region_code", "String", "summary point: the region summarised"},
			Field{"region_name", "String", "summary point: its name"},
			Field{"sites", "Number", "summary point: sites"},
		),
		bands: append(clusterBands(`r.sites, r.site_capacity_people AS capacity_people,
	r.site_moved_in_people AS moved_in_people, round(r.site_progress_avg)::int AS progress`, "r.sites > 0"),
			featureBand(9, MaxZoom, geo.Sites, tableSource("sites s", "s"))),
	},
	{
		Name:        "labels",
		Description: "Where to write region names: those of the level that fills the map at the zoom (provinces, cities, counties), townships from zoom 8 (villages are labelled from their own layer)",
		MinZoom:     0, MaxZoom: MaxZoom,
		Fields: []Field{
			{"code", "String", "statistical code"},
			{"name", "String", "name"},
			{"level", "String", "province, city, county or township"},
		},
		bands: []band{
			labelBand(0, CitiesFrom-1, "province"), labelBand(CitiesFrom, CountiesFrom-1, "city"),
			labelBand(CountiesFrom, TownshipsFrom-1, "county"), labelBand(TownshipsFrom, MaxZoom, "county", "township"),
		},
	},
	{
		Name: "villages",
		Description: "Villages and communities with their poverty status and registry figures (zoom 9 and up; below, see the region layers). " +
			"A tile of zooms 9–" + strconv.Itoa(EveryVillageFrom-1) + " where more than " + strconv.Itoa(CrowdedVillages) + " villages lie keeps only the poverty villages, the others counted in their townships",
		Collection: geo.Villages,
		MinZoom:    9, MaxZoom: MaxZoom,
		Fields: append(collectionFields(geo.Villages), shortName.Field),
		bands: []band{
			featureBand(9, EveryVillageFrom-1, geo.Villages, villageSource("(f.poverty_status <> 'none' OR "+villagesInTile+" <= "+strconv.Itoa(CrowdedVillages)+")"), shortName),
			featureBand(EveryVillageFrom, MaxZoom, geo.Villages, villageSource("true"), shortName),
		},
	},
	{
		Name: "flags",
		Description: "Consistency flags that hold (数据核查), each at what it is about, by severity (zoom 7 and up); " +
			"in a past tile, those that held then",
		Collection: geo.Flags,
		MinZoom:    7, MaxZoom: MaxZoom,
		Fields: append(collectionFields(geo.Flags), flagID.Field),
		// Open flags only: past reads see the as_of view of flags, whose
		// rows are the flags that held at the moment, none of them cleared.
		bands: []band{featureBand(7, MaxZoom, geo.Flags, source{
			from:   "flags fl JOIN flag_rules fr ON fr.code = fl.rule",
			inTile: "fl.cleared_at IS NULL AND ST_Transform(fl.geom, 3857) && " + envMargin,
			geom:   "ST_Transform(fl.geom, 3857)", code: "fl.id",
		}, flagID)},
	},
}

// shortName labels villages on the map: their official names end in a
// committee (村民委员会), which nobody says.
var shortName = attribute{Field{"short_name", "String", "name as people say it, without 村民委员会 / 居民委员会"}, "short_name(f.name)"}

// flagID names a flag on the map, so that a page opens its detail: a
// flag's id is text, which an MVT feature id cannot be.
var flagID = attribute{Field{"id", "String", "the flag's id (GET /api/flags/{id})"}, "fl.id"}

// villageSource reads the villages that hold, beside being in the tile.
func villageSource(holds string) source {
	return source{
		from:   "rollup_figures f JOIN villages v ON v.code = f.code",
		inTile: "f.level = 'village' AND f.point && " + envMargin + " AND " + holds,
		geom:   "f.point", code: "f.code", id: true,
	}
}

// CrowdedVillages is the most villages a tile of zoom 9 or 10 draws all
// of, and EveryVillageFrom the zoom from which every village is drawn. In
// the plains of the east a tile of zoom 9 holds up to 4,800 villages, one
// of zoom 10 some 650, where the demo's densest tile of zoom 9 holds 373.
// A crowded tile keeps the poverty villages (not exited, exited: what the
// battle map is about; at most some 540 in a tile of the national data),
// the others counted in their townships' figures, so that no tile of the
// country costs much more to make than the demo's densest. With 1,500 at
// zoom 9 alone the national list's slowest tiles were its crowded ones,
// 13–18 ms of PostgreSQL's time where the demo's took 4–5 (BENCHMARKS.md).
// villagesInTile counts the tile's villages, stopping past the limit.
const (
	CrowdedVillages  = 500
	EveryVillageFrom = 11
)

var villagesInTile = `(SELECT count(*) FROM (SELECT FROM rollup_figures c
	WHERE c.level = 'village' AND c.point && ` + envMargin + ` LIMIT ` + strconv.Itoa(CrowdedVillages+1) + `) c)`

// labelBand places a name at the representative point of each region of
// the levels given, all counties or below, or all above: the former's
// points are indexed in the rollups, the latter are few and read from
// the regions (their figures, which a label does not need, are sums).
func labelBand(minZoom, maxZoom int, levels ...string) band {
	from, point := "rollup_figures r", "r.point"
	if !stored(levels[0]) {
		from, point = "regions r", "ST_Transform(r.point, 3857)"
	}
	return band{minZoom: minZoom, maxZoom: maxZoom, sql: `
SELECT r.code, r.name, r.level, ` + mvtGeom(point) + `
FROM ` + from + `
WHERE r.level IN ('` + strings.Join(levels, "', '") + `') AND ` + point + ` && ` + envMargin + `
ORDER BY r.code`}
}

// source is where a band reads the features of a collection: the tables,
// under the aliases the collection's column expressions use (f for
// rollup_figures, v villages, s sites, p projects, h hazard zones, r
// roads, sv services, fl flags and fr their rules); which rows fall in the
// tile, by a test a spatial index serves; their geometry in EPSG:3857; and
// the feature's code, which orders the rows.
type source struct {
	from, inTile, geom, code string
	// clipped: geom is the feature's geometry in the tile already, as
	// ST_AsMVTGeom made it.
	clipped bool
	// id: the code is a statistical code, all digits, and is also the
	// feature's id.
	id bool
}

// tableSource reads the features of one table under alias a, whose
// geometry is "geom" in EPSG:4326 and key "code".
func tableSource(table, a string) source {
	g := "ST_Transform(" + a + ".geom, 3857)"
	return source{from: table, inTile: g + " && " + envMargin, geom: g, code: a + ".code"}
}

// attribute is an attribute only the tiles carry, beside a collection's
// properties: its field and the SQL that yields it.
type attribute struct {
	Field
	sql string
}

// featureBand draws each feature of collection c from minZoom to maxZoom
// with c's properties, by c's own select list so that a feature says the
// same in a tile as in the collection, then the attributes extra; read
// from src in code order, so that a tile's bytes are the same every time.
func featureBand(minZoom, maxZoom int, c *geo.Collection, src source, extra ...attribute) band {
	cols := c.SelectList()
	if src.id {
		cols = src.code + "::bigint AS id, " + cols
	}
	for _, a := range extra {
		cols += ", " + a.sql + " AS " + pgx.Identifier{a.Name}.Sanitize()
	}
	geom := mvtGeom(src.geom)
	if src.clipped {
		geom = src.geom + " AS geom"
	}
	return band{minZoom: minZoom, maxZoom: maxZoom, id: src.id, sql: `
SELECT ` + cols + `, ` + geom + `
FROM ` + src.from + `
WHERE ` + src.inTile + `
ORDER BY ` + src.code}
}

// collectionFields are c's properties as TileJSON fields.
func collectionFields(c *geo.Collection) []Field {
	types := map[string]string{"string": "String", "integer": "Number", "number": "Number", "boolean": "Boolean"}
	fields := make([]Field, len(c.Columns))
	for i, col := range c.Columns {
		fields[i] = Field{col.Name, types[col.Type], col.Description}
	}
	return fields
}

const projectClusterColumns = `r.projects, r.projects_completed, round(r.completion_avg)::int AS completion,
	r.funds_planned, r.funds_disbursed`

// Overlays are layers served each as a tileset of its own and kept out
// of the composite: analyses that cost more to draw than the map's
// layers and that only one page shows, which the style adds hidden.
var Overlays = []*Layer{Suitability}

// Suitability is the site suitability surface of every county: hexagons
// of 500 m a side scored with the default weights and thresholds
// (geo.SuitabilityParams), coloured by score, the excluded ones with why.
// Drawn from zoom 9, where a tile holds a county or two. A tile computes
// the cells of its counties first when they are stale
// (migrations/010_suitability.sql), which a tile of z9 pays most for.
var Suitability = &Layer{
	Name:        "suitability",
	Description: "Site suitability for relocation: hexagons of 500 m scored 0–100 with the default weights, excluded ones with the reasons",
	MinZoom:     9, MaxZoom: MaxZoom,
	Fields: []Field{
		{"cell", "String", "cell id: i_j of the hexagon grid"},
		{"county_code", "String", "county whose cell it is"},
		{"score", "Number", "suitability 0–100 with the default weights; absent for an excluded cell"},
		{"excluded", "String", "why a site cannot go there, comma-separated: no_terrain, slope, hazard"},
		{"slope", "Number", "slope at the centre (°)"},
		{"road_m", "Number", "distance to the nearest road (m)"},
		{"service_m", "Number", "distance to the nearest service point (m)"},
		{"people", "Number", "unassigned poor people within reach"},
	},
	bands: []band{{minZoom: 9, maxZoom: MaxZoom, sql: `
SELECT s.i || '_' || s.j AS cell, s.county_code, round(s.score::numeric, 1)::float8 AS score,
       nullif(array_to_string(s.excluded, ','), '') AS excluded, round(s.slope::numeric, 1)::float8 AS slope,
       s.road_m, s.service_m, s.people, ` + mvtGeom("s.geom_3857") + `
FROM suitability_tile($1, $2, $3, $4) s
ORDER BY s.county_code, s.i, s.j`}},
	args: []any{geo.Defaults(geo.SuitabilityParams)},
}

// Tileset is what one tile URL serves: one layer, or several in one tile.
type Tileset struct {
	Name        string
	Description string
	Layers      []*Layer
	// queries[z] is the SQL of a tile at zoom z; "" where no layer is drawn.
	queries [MaxZoom + 1]string
	// args are what the SQL reads after z, x and y: those of the one
	// layer that has any.
	args []any
	// past: the tileset is served as of past moments too. Its layers
	// read only tables and views that keep their history (the as_of
	// schema, migrations/014_as_of.sql); the overlays do not.
	past bool
}

// CompositeName is the tileset holding every layer, the one pages use.
const CompositeName = "battlemap"

var layerName = regexp.MustCompile(`^[a-z][a-z_]*$`)

// newTileset builds the tile SQL of each zoom once: each active layer's
// ST_AsMVT joined with || so that a tile of several layers is one round
// trip, after the inTile tables its bands read. ST_AsMVT leaves out the
// rows whose geometry ST_AsMVTGeom clipped away (NULL), and yields an
// empty string when none is left: a filter on the geometry would be
// pushed down into the band's SELECT and make PostgreSQL compute every
// feature's ST_AsMVTGeom twice, once to filter and once for the row.
func newTileset(name, description string, layers []*Layer) *Tileset {
	ts := &Tileset{Name: name, Description: description, Layers: layers}
	for z := 0; z <= MaxZoom; z++ {
		var parts, withs []string
		for _, l := range layers {
			if !layerName.MatchString(l.Name) {
				panic(fmt.Sprintf("tiles: layer name %q must match %s", l.Name, layerName))
			}
			if l.args != nil && ts.args != nil && z == 0 {
				// Each would number its own from $4.
				panic("tiles: tileset " + name + ": two layers with args")
			}
			if z == 0 && l.args != nil {
				ts.args = l.args
			}
			for _, b := range l.bands {
				if z < b.minZoom || z > b.maxZoom {
					continue
				}
				id := ""
				if b.id {
					id = ", 'id'"
				}
				parts = append(parts, `(SELECT coalesce(ST_AsMVT(q, '`+l.Name+`', 4096, 'geom'`+id+`), ''::bytea)
FROM (`+b.sql+`) q)`)
				if b.with != "" && !slices.Contains(withs, b.with) {
					withs = append(withs, b.with)
				}
			}
		}
		if len(parts) == 0 {
			continue
		}
		query := "SELECT " + strings.Join(parts, "\n|| ")
		if len(withs) > 0 {
			defs := make([]string, len(withs))
			for i, level := range withs {
				defs[i] = inTileName(level) + " AS MATERIALIZED (" + inTile(level) + ")"
			}
			query = "WITH " + strings.Join(defs, ",\n") + "\n" + query
		}
		ts.queries[z] = query
	}
	return ts
}

// MinZoom is the lowest zoom at which the tileset draws anything.
func (ts *Tileset) MinZoom() int {
	m := MaxZoom
	for _, l := range ts.Layers {
		m = min(m, l.MinZoom)
	}
	return m
}

// MaxZoom is the highest zoom the tileset is served at.
func (ts *Tileset) MaxZoom() int {
	m := 0
	for _, l := range ts.Layers {
		m = max(m, l.MaxZoom)
	}
	return m
}

// Query is the SQL of a tile at zoom z ($1, $2, $3 = z, x, y), or "" when
// no layer of the tileset is drawn at z.
func (ts *Tileset) Query(z int) string {
	if z < 0 || z > MaxZoom {
		return ""
	}
	return ts.queries[z]
}

// Args are the values the tileset's SQL reads after z, x and y.
func (ts *Tileset) Args() []any { return ts.args }

// Tilesets are every tileset served, by name: each layer and overlay on
// its own, and the composite of the layers.
func Tilesets() map[string]*Tileset {
	sets := map[string]*Tileset{
		CompositeName: newTileset(CompositeName, "The battle map: every layer in one tile", Layers),
	}
	sets[CompositeName].past = true
	for _, l := range Layers {
		sets[l.Name] = newTileset(l.Name, l.Description, []*Layer{l})
		sets[l.Name].past = true
	}
	for _, l := range Overlays {
		sets[l.Name] = newTileset(l.Name, l.Description, []*Layer{l})
	}
	return sets
}
