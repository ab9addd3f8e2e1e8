package gazetteer

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
)

// IsCommunity reports whether a village-level unit is an urban community
// (居委会/社区) rather than a village; communities are never poverty
// villages. The source has one 居民委会员 typo, matched too.
func IsCommunity(name string) bool {
	return strings.Contains(name, "居民委员会") || strings.Contains(name, "居民委会员") || strings.Contains(name, "社区")
}

// IsSubdistrict reports whether a township is an urban subdistrict (街道).
func IsSubdistrict(name string) bool {
	return strings.HasSuffix(name, "街道")
}

// NewRand returns a PCG generator for one concern (a seed constant of
// the caller's) and one key (a code, or "" for choices over everything),
// so that a county's points do not depend on the counties before it.
// FNV-1a of the key is stable across Go versions and machines.
func NewRand(seed uint64, key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// Uniform returns a uniform float in [lo, hi).
func Uniform(r *rand.Rand, lo, hi float64) float64 {
	return lo + (hi-lo)*r.Float64()
}
