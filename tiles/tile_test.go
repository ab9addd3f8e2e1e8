package tiles_test

import (
	"strconv"
	"testing"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/tiles"
)

func TestParseTile(t *testing.T) {
	tests := []struct {
		name    string
		z, x, y string
		ok      bool
	}{
		{"valid", "8", "204", "107.mvt", true},
		{"zoom 0", "0", "0", "0.mvt", true},
		{"largest x and y at zoom 2", "2", "3", "3.mvt", true},
		{"zoom 22", "22", "4194303", "0.mvt", true},
		{"negative z", "-1", "0", "0.mvt", false},
		{"negative x", "3", "-1", "0.mvt", false},
		{"x equal to 2^z", "2", "4", "0.mvt", false},
		{"y equal to 2^z", "2", "0", "4.mvt", false},
		{"z above 22", "23", "0", "0.mvt", false},
		{"z not a number", "a", "0", "0.mvt", false},
		{"x with a sign", "3", "+1", "0.mvt", false},
		{"y with spaces", "3", "1", " 1.mvt", false},
		{"fractional x", "3", "1.5", "0.mvt", false},
		{"wrong extension", "3", "1", "1.png", false},
		{"no extension", "3", "1", "1", false},
		{"empty y", "3", "1", ".mvt", false},
		{"huge z", "99999999999999999999", "0", "0.mvt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tile, err := tiles.ParseTile(tt.z, tt.x, tt.y, ".mvt")
			if tt.ok && err != nil {
				t.Fatalf("got %v, want a tile", err)
			}
			if !tt.ok && geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("got %v, %v; want a geo.EInvalid error", tile, err)
			}
		})
	}
}

// FuzzParseTile checks that any path either parses to a valid tile that
// prints back to itself, or is refused with a geo.EInvalid error.
func FuzzParseTile(f *testing.F) {
	for _, seed := range [][3]string{
		{"8", "204", "107.mvt"},     // a tile over Zunyi
		{"0", "0", "0.mvt"},         // the world
		{"22", "4194303", "1.mvt"},  // deepest zoom, last column
		{"23", "0", "0.mvt"},        // too deep
		{"3", "8", "0.mvt"},         // x out of range
		{"3", "1", "1.png"},         // wrong extension
		{"-0", "00", "0x1.mvt"},     // signs and hex
		{"8", "204", "107.mvt.mvt"}, // doubled extension
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, z, x, y string) {
		tile, err := tiles.ParseTile(z, x, y, ".mvt")
		if err != nil {
			if geo.ErrorCode(err) != geo.EInvalid {
				t.Fatalf("rejected with %v, want a geo.EInvalid error", err)
			}
			return
		}
		if !tile.Valid() || tile.Z > 22 {
			t.Fatalf("accepted an invalid tile %v", tile)
		}
		again, err := tiles.ParseTile(strconv.Itoa(int(tile.Z)), strconv.Itoa(int(tile.X)), strconv.Itoa(int(tile.Y))+".mvt", ".mvt")
		if err != nil || again != tile {
			t.Fatalf("round trip of %v gave %v, %v", tile, again, err)
		}
	})
}
