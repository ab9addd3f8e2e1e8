package web

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzValidHost checks the Host check against what the links are made
// of: a host it takes is, put after "http://", exactly the host of the
// URL that results, so nothing in it can change a link's scheme, path
// or authority.
func FuzzValidHost(f *testing.F) {
	for _, seed := range []string{
		"battlemap.test", "localhost:8080", "127.0.0.1", "[::1]:8080", // taken
		"", "evil.example/x", "javascript://x", "a b", "user@host", "[::1", "[::0%0]", // refused
		"::1", "host:0", "host:65536", "host:+80", "-bad.example", "x..y",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if !validHost(h) {
			return
		}
		if strings.ContainsAny(h, "/?#@\\ \t\r\n") {
			t.Fatalf("validHost(%q) took a host with a URL delimiter", h)
		}
		u, err := url.Parse("http://" + h + "/tiles")
		if err != nil {
			t.Fatalf("validHost(%q) took a host that makes no URL: %v", h, err)
		}
		if u.Host != h || u.Path != "/tiles" {
			t.Fatalf("validHost(%q): the link parses as host %q path %q", h, u.Host, u.Path)
		}
	})
}
