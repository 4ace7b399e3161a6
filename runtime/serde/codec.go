// Package serde turns records, keys and state values into bytes and back: a Codec per type,
// derived once per type (never per record) for primitives, strings, byte slices and plain
// structs, or supplied by the user for anything else. It also maps keys to key groups.
package serde

// Codec encodes and decodes values of one type. Implementations must be safe for concurrent use
// (they are shared by all subtasks of a process) and must not retain dst or src.
type Codec[T any] interface {
	// Append appends the encoding of v to dst and returns the extended slice.
	Append(dst []byte, v T) []byte
	// Decode decodes one value from the start of src and returns it with the number of bytes
	// consumed. Malformed or truncated input returns an error (never a panic).
	Decode(src []byte) (T, int, error)
}
