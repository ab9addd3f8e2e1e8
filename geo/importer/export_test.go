package importer

// FailAfter makes im's bulk loads fail where fail says (see
// Importer.failAfter): for the tests only, out of reach of any input.
func FailAfter(im *Importer, fail func(phase string, n int) error) { im.failAfter = fail }
