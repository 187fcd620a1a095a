// Package portal holds the domain of the carrier portal: its types, the user
// roles, the permission table and the validation of user input. It imports
// nothing else of the project, so every other package can depend on it.
package portal

import (
	"errors"
	"fmt"
)

// Error codes, mapped to HTTP status codes in one place by the server.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ERATELIMIT    = "rate_limited"
)

// Error is the project's one error type for failures a caller can act on.
// Message is safe to show to a user; internal details are wrapped in Err.
type Error struct {
	Code    string
	Message string
	// Field names the form field the error is about, when there is one.
	Field string
	Err   error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("portal: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("portal: %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error about one form field.
func FieldError(field, message string) *Error {
	return &Error{Code: EINVALID, Field: field, Message: message}
}

// ErrNotFound is returned for anything that does not exist or that the caller
// may not see: the two are deliberately indistinguishable.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "Not found."}

// ErrorCode returns the code of err, EINTERNAL for errors of other types and
// "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err; errors that are not
// *Error get a generic message, so internals never reach a page.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}

// FieldErrors collects per-field validation messages of one form.
type FieldErrors map[string]string

// Add records msg for field unless the field already has a message.
func (fe FieldErrors) Add(field, msg string) {
	if _, ok := fe[field]; !ok {
		fe[field] = msg
	}
}

// AddErr records err's message for its field (or for field when the error
// names none). It reports whether err was non-nil.
func (fe FieldErrors) AddErr(field string, err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) && e.Field != "" {
		field = e.Field
	}
	fe.Add(field, ErrorMessage(err))
	return true
}

// Err returns the collected errors as an EINVALID error, or nil.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return &ValidationError{Fields: fe}
}

// ValidationError carries the messages of every invalid field of a form.
type ValidationError struct {
	Fields FieldErrors
}

func (v *ValidationError) Error() string {
	return fmt.Sprintf("portal: invalid input in %d fields", len(v.Fields))
}
