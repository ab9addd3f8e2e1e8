package main

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Seeds of the random streams, one per concern, so that changing how one
// thing is generated does not reshuffle everything else. Each stream is
// further keyed by a code (see gazetteer.NewRand), so a county's points do not
// depend on the counties before it.
const (
	seedSeats uint64 = 0x5EA75 + iota
	seedVillagePoints
	seedPoverty
	seedPopulation
	seedDemonstration
	seedPairing
	seedCooperatives
	seedSites
	seedAssignments
	seedProjects
	seedFactors
	seedHistory
)

// apportion splits total into whole parts proportional to weights by the
// largest-remainder method: everyone gets the floor of their share, and
// the units left over go to the largest fractional parts, ties to the
// lower index. The parts always add up to total exactly, which is how the
// published figures are met. Weights must be finite and not negative, and
// at least one positive.
func apportion(total int, weights []float64) ([]int, error) {
	sum := 0.0
	for i, w := range weights {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("apportion: weight %d is %v", i, w)
		}
		sum += w
	}
	if total < 0 || (total > 0 && sum <= 0) {
		return nil, fmt.Errorf("apportion: cannot split %d over weights summing to %v", total, sum)
	}
	parts := make([]int, len(weights))
	type rem struct {
		i    int
		frac float64
	}
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		share := 0.0
		if sum > 0 {
			share = float64(total) * w / sum
		}
		parts[i] = int(math.Floor(share))
		given += parts[i]
		rems[i] = rem{i, share - math.Floor(share)}
	}
	if given > total {
		return nil, fmt.Errorf("apportion: rounding gave %d of %d", given, total)
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		if c := cmp.Compare(b.frac, a.frac); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	for k := 0; given < total; k++ {
		parts[rems[k%len(rems)].i]++
		given++
	}
	return parts, nil
}

// rankDesc returns the indexes of scores from the largest score down,
// ties to the lower index.
func rankDesc(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return idx
}

// topK returns the indexes of the k largest scores, ties to the lower
// index, in index order.
func topK(scores []float64, k int) []int {
	idx := rankDesc(scores)
	idx = idx[:min(k, len(idx))]
	slices.Sort(idx)
	return idx
}

// between returns a uniform integer in [lo, hi].
func between(r *rand.Rand, lo, hi int) int {
	return lo + r.IntN(hi-lo+1)
}

// pick returns one of xs at random.
func pick[T any](r *rand.Rand, xs []T) T {
	return xs[r.IntN(len(xs))]
}

// pickWeighted returns an index chosen with probability proportional to
// its weight; weights must not all be zero.
func pickWeighted(r *rand.Rand, weights []float64) int {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	x := r.Float64() * sum
	last := -1
	for i, w := range weights {
		if w <= 0 {
			continue
		}
		if x < w {
			return i
		}
		x -= w
		last = i
	}
	return last // only reached through rounding
}
