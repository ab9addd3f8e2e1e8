package account

import (
	"strings"
	"testing"
)

// FuzzParse checks parse, which reads what a client sends (a bearer token
// or a cookie): it never panics, and a credential it takes has exactly
// the form Create writes, "bm_", 16 lowercase hex digits, '_' and 43
// base64url characters, its id being the hex digits.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"bm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // taken
		"bm_ffffffffffffffff_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_",
		"", "bm_", "bm__", "BM_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // refused
		"bm_0123456789ABCDEF_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // capital hex
		"bm_0123456789abcdeg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // not hex
		"bm_0123456789abcdef-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // no '_'
		"bm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   // a character short
		"bm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // one more
		"bm_0123456789abcdef_+/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // standard base64
		"bm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  // padded
		"bm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAA\nAAAAAAAAAAAAAAAAAAAAA", // a newline, which base64 decoders skip
		"bm_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xff",
		"bm_\u00e9123456789abcde_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cred string) {
		id, ok := parse(cred)
		if !ok {
			if id != "" {
				t.Fatalf("parse(%q) refused it but returned id %q", cred, id)
			}
			return
		}
		if !credForm.MatchString(cred) {
			t.Fatalf("parse(%q) took a credential not of the form bm_<16 lowercase hex>_<43 base64url>", cred)
		}
		if id != cred[3:19] || strings.ToLower(id) != id {
			t.Fatalf("parse(%q) = %q, want its 16 hex digits %q", cred, id, cred[3:19])
		}
	})
}
