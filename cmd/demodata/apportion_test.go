package main

import (
	"slices"
	"testing"
)

func TestApportion(t *testing.T) {
	tests := []struct {
		name    string
		total   int
		weights []float64
		want    []int
	}{
		{"even", 6, []float64{1, 1, 1}, []int{2, 2, 2}},
		{"remainder to largest fraction", 10, []float64{1, 1, 1}, []int{4, 3, 3}},
		{"zero weight gets nothing", 5, []float64{0, 2, 3}, []int{0, 2, 3}},
		{"largest remainder", 10, []float64{0.26, 0.26, 0.48}, []int{3, 2, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apportion(tt.total, tt.weights)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := apportion(3, []float64{0, 0}); err == nil {
		t.Error("apportion over zero weights: got no error")
	}
}

func TestShortNames(t *testing.T) {
	for in, want := range map[string]string{
		"枫香镇":      "枫香",
		"娄山关街道":    "娄山关",
		"谢坝仡佬族苗族乡": "谢坝",
		"后山苗族布依族乡": "后山",
		"小水乡":      "小水",
	} {
		if got := shortTownshipName(in); got != want {
			t.Errorf("shortTownshipName(%q): got %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"花茂村村民委员会":   "花茂村",
		"大兴路社区居民委员会": "大兴路社区",
	} {
		if got := shortVillageName(in); got != want {
			t.Errorf("shortVillageName(%q): got %q, want %q", in, got, want)
		}
	}
}
