package serde

import (
	"errors"
	"fmt"
	"reflect"
)

// Sentinel errors. Every error returned by this package wraps one of them, so callers can test
// with errors.Is.
var (
	// ErrTruncated means the input ended in the middle of a value: the buffer was cut short or
	// a length prefix is larger than what follows it.
	ErrTruncated = errors.New("serde: input truncated")
	// ErrMalformed means the input is not a valid encoding: a varint longer than 10 bytes or not
	// in its shortest form, a bool byte other than 0 or 1, an integer too large for its Go type,
	// a string that would need more memory than the input can justify, or nesting deeper than
	// MaxDecodeDepth.
	ErrMalformed = errors.New("serde: malformed input")
	// ErrUnsupported means no codec can be derived for a type (interfaces, channels, functions,
	// unsafe pointers) and none is registered.
	ErrUnsupported = errors.New("serde: unsupported type")
)

// UnsupportedTypeError is returned by For when a type, or a type reachable from it, has no
// derivable codec. Path names where the type was found (for example "Order.Payload" or
// "Order.Items[].Ref"); it is empty when the requested type itself is unsupported.
type UnsupportedTypeError struct {
	Path string
	Type reflect.Type
}

// Error implements error.
func (e *UnsupportedTypeError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("serde: no codec for type %s: register one with serde.Register", e.Type)
	}
	return fmt.Sprintf("serde: no codec for field %s of type %s: register one with serde.Register", e.Path, e.Type)
}

// Unwrap lets errors.Is(err, ErrUnsupported) match.
func (e *UnsupportedTypeError) Unwrap() error { return ErrUnsupported }

// Preallocated errors for the hot decode paths (no allocation when input is bad in the common ways).
var (
	errVarintTruncated = fmt.Errorf("varint cut short: %w", ErrTruncated)
	errVarintOverflow  = fmt.Errorf("varint longer than 10 bytes or above 2^64-1: %w", ErrMalformed)
	errVarintOverlong  = fmt.Errorf("varint not in its shortest form: %w", ErrMalformed)
	errFixedTruncated  = fmt.Errorf("fixed-size value cut short: %w", ErrTruncated)
	errBadBool         = fmt.Errorf("bool byte is neither 0 nor 1: %w", ErrMalformed)
	errBadNilFlag      = fmt.Errorf("pointer flag byte is neither 0 nor 1: %w", ErrMalformed)
	errTooDeep         = fmt.Errorf("value nested deeper than %d levels (hostile input or a huge recursive value): %w", MaxDecodeDepth, ErrMalformed)
)

// lengthError reports a length prefix that promises more than the input holds.
func lengthError(what string, n uint64, remaining int) error {
	return fmt.Errorf("%s length %d exceeds the %d bytes left: %w", what, n, remaining, ErrTruncated)
}

// rangeError reports an integer that does not fit the destination Go type.
func rangeError(v any, typ string) error {
	return fmt.Errorf("value %v out of range for %s (written by a different type?): %w", v, typ, ErrMalformed)
}

// fieldError adds a field path segment to a decode error. The message is built only when
// Error is called, once for the whole chain: formatting at every level would cost time
// quadratic in the nesting depth, which hostile input controls.
func fieldError(path string, err error) error {
	if path == "" {
		return err
	}
	return &pathError{seg: path, err: err}
}

// pathError is a decode error inside a field; nested pathErrors form the field path.
type pathError struct {
	seg string
	err error
}

// maxPathSegments bounds how many path segments an error message spells out.
const maxPathSegments = 40

// Error implements error: "field Items[3].SKU: <cause>".
func (e *pathError) Error() string {
	var segs []string
	var cause error = e
	for {
		pe, ok := cause.(*pathError)
		if !ok {
			break
		}
		segs = append(segs, pe.seg)
		cause = pe.err
	}
	if len(segs) > maxPathSegments {
		keep := maxPathSegments / 2
		omitted := len(segs) - 2*keep
		segs = append(append(segs[:keep:keep], fmt.Sprintf("…(%d more)…", omitted)), segs[len(segs)-keep:]...)
	}
	path := ""
	for _, s := range segs {
		path = joinPath(path, s)
	}
	return "field " + path + ": " + cause.Error()
}

// Unwrap returns the underlying error.
func (e *pathError) Unwrap() error { return e.err }

var errNilDest = errors.New("serde: DecodeInto: nil destination pointer")
