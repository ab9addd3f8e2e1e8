package geo

// SearchNameSQL is searchNameSQL, for tests that read its plan.
var SearchNameSQL = searchNameSQL

// GenericPlansSQL is genericPlansSQL, for tests that read the plan
// geo.Search runs.
const GenericPlansSQL = genericPlansSQL

// SearchCodeSQL is searchCodeSQL, for tests that look for its plan.
var SearchCodeSQL = searchCodeSQL
