// Package geo is battlemap's domain: regions (city, county, township,
// village), villages' poverty figures, relocation sites, projects, the
// queries over them and the errors they return.
package geo

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Error codes of domain errors. The web package maps each to an HTTP
// status in one table.
const (
	EInvalid  = "invalid"   // the request or input is malformed
	ENotFound = "not_found" // the thing asked for does not exist
	ETooLarge = "too_large" // the input exceeds a configured limit
	EConflict = "conflict"  // a concurrent change got in the way; the same request may succeed if sent again
	// EForbidden: the change reaches rows outside the actor's scope.
	EForbidden = "forbidden"
	// EStale: the change was made against a version of the feature that
	// is no longer current (its If-Match names another ETag).
	EStale = "stale"
	// EUnprocessable: the input is well-formed, but fields of it break
	// the data's rules; Fields names each.
	EUnprocessable = "unprocessable"
)

// Error is a domain error whose message is safe to show to a client.
// Errors that are not an *Error are internal: clients see a generic
// message and the cause is logged.
type Error struct {
	Code    string
	Message string
	// Fields are the fields at fault and why, when the input has fields.
	Fields []FieldError
	// Facts are what a rule of the data judged, as JSON, when a rule
	// refused the change: the rule, its standard and the figures it
	// found (an exit below the standard). nil otherwise.
	Facts json.RawMessage
}

// FieldError is one field of an input at fault, and why.
type FieldError struct {
	Field  string `json:"name"`
	Reason string `json:"reason"`
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode is the code of err's *Error, or "" for an internal error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
