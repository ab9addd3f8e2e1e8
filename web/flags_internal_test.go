package web

import (
	"testing"

	"github.com/zunyi/battlemap/geo"
)

// TestFlagSubjectsHaveCollections: every kind of thing a flag may be
// about has the collection its detail links to.
func TestFlagSubjectsHaveCollections(t *testing.T) {
	for _, v := range geo.FlagSubjects.Values {
		if flagSubjects[v.Value] == nil {
			t.Errorf("flag subject %s has no collection in flagSubjects", v.Value)
		}
	}
	if len(flagSubjects) != len(geo.FlagSubjects.Values) {
		t.Errorf("flagSubjects has %d entries, geo.FlagSubjects %d values", len(flagSubjects), len(geo.FlagSubjects.Values))
	}
}
