package web_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/geo/pgtest"
)

// TestOGRInfoReadsCollections checks that GDAL's OGC API – Features
// driver, a client we did not write, opens every collection over HTTP and
// counts all its features. Without ogrinfo the test fails, saying how to
// install it: nothing is skipped silently.
func TestOGRInfoReadsCollections(t *testing.T) {
	ogrinfo, err := exec.LookPath("ogrinfo")
	if err != nil {
		t.Fatal("ogrinfo not found: install GDAL with `make deps` or `apt-get install gdal-bin`")
	}
	pool := pgtest.New(t)
	base := listen(t, pool)
	featureCount := regexp.MustCompile(`(?m)^Feature Count: (\d+)$`)
	for _, c := range geo.Collections {
		t.Run(c.ID, func(t *testing.T) {
			want := len(ids(t, pool, featureIDs[c.ID]))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, ogrinfo, "-ro", "-so", "OAPIF:"+base+"/", c.ID)
			// The server is on loopback: no proxy in between.
			cmd.Env = append(os.Environ(), "NO_PROXY=127.0.0.1", "no_proxy=127.0.0.1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, out)
			}
			m := featureCount.FindSubmatch(out)
			if m == nil {
				t.Fatalf("ogrinfo lists no feature count:\n%s", out)
			}
			if got, _ := strconv.Atoi(string(m[1])); got != want {
				t.Errorf("ogrinfo counts %d features, want %d", got, want)
			}
		})
	}
}
