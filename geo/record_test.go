package geo

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
)

// TestRecordJSON checks Record's own encoding against encoding/json, the
// spelling it promises, value by value.
func TestRecordJSON(t *testing.T) {
	values := []any{
		nil, true, false, int32(-7), int64(1 << 40), 0.0, math.Copysign(0, -1), 12.345, 1e-7, 1e20, 1e21, -3.5e-9,
		"花茂村", "", `say "hi"`, `back\slash`, "tab\there", "<b>&</b>", "line\u2028sep", "bad \xff utf-8", "\ufffd",
		[]string{"a"}, map[string]int{"n": 1},
	}
	for _, v := range values {
		r := Record{Columns: []Column{{Name: "v"}}, Values: []any{v}}
		got, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		want, _ := json.Marshal(map[string]any{"v": v})
		if string(got) != string(want) {
			t.Errorf("%#v: got %s, want %s", v, got, want)
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1)} {
		r := Record{Columns: []Column{{Name: "v"}}, Values: []any{v}}
		if _, err := r.MarshalJSON(); err == nil || !strings.Contains(err.Error(), "v:") {
			t.Errorf("%v: got error %v, want one naming the column", v, err)
		}
	}
}

// TestColumnNames holds the promise Record.AppendJSON relies on: every
// name it writes needs no escaping in JSON.
func TestColumnNames(t *testing.T) {
	plain := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	cols := append([]Column(nil), figureColumns...)
	for _, c := range Collections {
		cols = append(cols, c.Columns...)
	}
	for _, c := range cols {
		if !plain.MatchString(c.Name) {
			t.Errorf("column name %q is not a plain identifier", c.Name)
		}
	}
}
