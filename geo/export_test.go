package geo

// SearchNameSQL is searchNameSQL, for tests that read its plan.
var SearchNameSQL = searchNameSQL
