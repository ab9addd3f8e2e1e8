package terrain

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"sort"
	"strconv"
)

// Grid is a raster of elevations: Width × Height cells of Cell units
// (metres, or degrees for EPSG:4326), rows from the top (north) down,
// the upper-left corner of the first cell at (OriginX, OriginY) in the
// coordinate reference system EPSG names. Cells equal to NoData hold no
// value.
type Grid struct {
	Width, Height    int
	OriginX, OriginY float64
	Cell             float64
	EPSG             int
	NoData           float32
	Values           []float32 // Width × Height, row by row
}

// At is the value of the cell in column col and row row.
func (g *Grid) At(col, row int) float32 { return g.Values[row*g.Width+col] }

// ErrBadGrid is returned by WriteGeoTIFF for a grid whose size, cell or
// values do not agree.
var ErrBadGrid = errors.New("terrain: the grid's size, cell size and values do not agree")

// TIFF tag numbers and field types (TIFF 6.0; GeoTIFF 1.1 for the
// Model… and GeoKey tags; GDAL's own tag for the no-data value).
const (
	tagImageWidth      = 256
	tagImageLength     = 257
	tagBitsPerSample   = 258
	tagCompression     = 259
	tagPhotometric     = 262
	tagStripOffsets    = 273
	tagSamplesPerPixel = 277
	tagRowsPerStrip    = 278
	tagStripByteCounts = 279
	tagPlanarConfig    = 284
	tagSampleFormat    = 339
	tagModelPixelScale = 33550
	tagModelTiepoint   = 33922
	tagGeoKeyDirectory = 34735
	tagGDALNoData      = 42113

	typeASCII  = 2
	typeShort  = 3
	typeLong   = 4
	typeDouble = 12
)

// GeoKeys (GeoTIFF 1.1, section 6).
const (
	keyModelType        = 1024 // 1 projected, 2 geographic
	keyRasterType       = 1025 // 1 PixelIsArea
	keyGeographicType   = 2048
	keyProjectedCSType  = 3072
	keyProjLinearUnits  = 3076
	modelProjected      = 1
	modelGeographic     = 2
	rasterPixelIsArea   = 1
	linearUnitMetre     = 9001
	epsgWGS84Geographic = 4326
)

// stripBytes is about how large a strip is: readers take one in a piece.
const stripBytes = 64 << 10

// entry is one IFD entry: a tag and its values, already encoded.
type entry struct {
	tag, typ uint16
	count    uint32
	data     []byte
}

// WriteGeoTIFF writes g as a GeoTIFF: little-endian, one band of 32-bit
// floats, uncompressed strips, with its origin, cell size and EPSG code
// as GeoKeys (a projected system, or geographic for EPSG:4326) and its
// no-data value as GDAL reads it. It returns ErrBadGrid for an empty grid,
// a cell that is not positive or values of the wrong count.
func (g *Grid) WriteGeoTIFF(w io.Writer) error {
	if g.Width <= 0 || g.Height <= 0 || len(g.Values) != g.Width*g.Height || !(g.Cell > 0) || g.EPSG <= 0 || g.EPSG > math.MaxUint16 {
		return ErrBadGrid
	}
	le := binary.LittleEndian
	rows := max(1, stripBytes/(4*g.Width))
	strips := (g.Height + rows - 1) / rows
	shorts := func(vs ...uint16) []byte {
		b := make([]byte, 2*len(vs))
		for i, v := range vs {
			le.PutUint16(b[2*i:], v)
		}
		return b
	}
	longs := func(vs ...uint32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			le.PutUint32(b[4*i:], v)
		}
		return b
	}
	doubles := func(vs ...float64) []byte {
		b := make([]byte, 8*len(vs))
		for i, v := range vs {
			le.PutUint64(b[8*i:], math.Float64bits(v))
		}
		return b
	}
	keys := []uint16{keyModelType, 0, 1, modelProjected, keyRasterType, 0, 1, rasterPixelIsArea,
		keyProjectedCSType, 0, 1, uint16(g.EPSG), keyProjLinearUnits, 0, 1, linearUnitMetre}
	if g.EPSG == epsgWGS84Geographic {
		keys = []uint16{keyModelType, 0, 1, modelGeographic, keyRasterType, 0, 1, rasterPixelIsArea,
			keyGeographicType, 0, 1, epsgWGS84Geographic}
	}
	geoKeys := append([]uint16{1, 1, 0, uint16(len(keys) / 4)}, keys...)
	noData := []byte(formatNoData(g.NoData) + "\x00")

	offsets, counts := make([]uint32, strips), make([]uint32, strips)
	entries := []entry{
		{tagImageWidth, typeLong, 1, longs(uint32(g.Width))},
		{tagImageLength, typeLong, 1, longs(uint32(g.Height))},
		{tagBitsPerSample, typeShort, 1, shorts(32)},
		{tagCompression, typeShort, 1, shorts(1)},
		{tagPhotometric, typeShort, 1, shorts(1)},
		{tagStripOffsets, typeLong, uint32(strips), nil}, // filled in below
		{tagSamplesPerPixel, typeShort, 1, shorts(1)},
		{tagRowsPerStrip, typeLong, 1, longs(uint32(rows))},
		{tagStripByteCounts, typeLong, uint32(strips), nil},
		{tagPlanarConfig, typeShort, 1, shorts(1)},
		{tagSampleFormat, typeShort, 1, shorts(3)}, // IEEE floating point
		{tagModelPixelScale, typeDouble, 3, doubles(g.Cell, g.Cell, 0)},
		{tagModelTiepoint, typeDouble, 6, doubles(0, 0, 0, g.OriginX, g.OriginY, 0)},
		{tagGeoKeyDirectory, typeShort, uint32(len(geoKeys)), shorts(geoKeys...)},
		{tagGDALNoData, typeASCII, uint32(len(noData)), noData},
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].tag < entries[j].tag })

	// Layout: header (8), IFD, the values too long for their entries,
	// then the strips.
	const header = 8
	ifdSize := 2 + 12*len(entries) + 4
	extra := 0
	for _, e := range entries {
		if n := entrySize(e); n > 4 {
			extra += n + n%2 // words start on even offsets
		}
	}
	pos := uint32(header + ifdSize + extra)
	for i := range strips {
		n := min(rows, g.Height-i*rows)
		offsets[i], counts[i] = pos, uint32(4*g.Width*n)
		pos += counts[i]
	}
	for i := range entries {
		switch entries[i].tag {
		case tagStripOffsets:
			entries[i].data = longs(offsets...)
		case tagStripByteCounts:
			entries[i].data = longs(counts...)
		}
	}

	bw := bufio.NewWriter(w)
	bw.Write([]byte{'I', 'I'})
	bw.Write(shorts(42))
	bw.Write(longs(header))
	bw.Write(shorts(uint16(len(entries))))
	next := uint32(header + ifdSize)
	var tail []byte
	for _, e := range entries {
		bw.Write(shorts(e.tag, e.typ))
		bw.Write(longs(e.count))
		if len(e.data) <= 4 {
			bw.Write(append(e.data, make([]byte, 4-len(e.data))...))
			continue
		}
		bw.Write(longs(next))
		tail = append(tail, e.data...)
		if len(e.data)%2 == 1 {
			tail = append(tail, 0)
		}
		next += uint32(len(e.data) + len(e.data)%2)
	}
	bw.Write(longs(0)) // no further IFD
	bw.Write(tail)
	row := make([]byte, 4*g.Width)
	for r := range g.Height {
		for c := range g.Width {
			le.PutUint32(row[4*c:], math.Float32bits(g.Values[r*g.Width+c]))
		}
		bw.Write(row)
	}
	return bw.Flush()
}

// entrySize is the bytes of e's values.
func entrySize(e entry) int {
	size := map[uint16]int{typeASCII: 1, typeShort: 2, typeLong: 4, typeDouble: 8}[e.typ]
	return size * int(e.count)
}

// formatNoData writes the no-data value as GDAL reads it, a decimal.
func formatNoData(v float32) string {
	if math.IsNaN(float64(v)) {
		return "nan"
	}
	return strconv.FormatFloat(float64(v), 'g', -1, 32)
}
