package emr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrClassification is wrapped by every error about the content of a classification document
// (malformed JSON, wrong types, unknown classifications or properties).
var ErrClassification = errors.New("invalid EMR configuration classification")

// Classification is one EMR configuration object (the API's "Configuration" shape):
// a classification name, flat string properties, and nested configurations (used by EMR's
// "*-env" classifications for their "export" block).
type Classification struct {
	// Classification names the configuration file or component, e.g. "flink-conf".
	Classification string `json:"Classification"`
	// Properties are the settings, all strings as in the EMR API.
	Properties map[string]string `json:"Properties,omitempty"`
	// Configurations are nested configuration objects.
	Configurations []Classification `json:"Configurations,omitempty"`
}

// Where names an entry of a document for error messages: `classification[2] "flink-conf"`;
// nested entries read `classification[0] "hadoop-env" > configurations[1] "export"`.
type Where string

func where(parent Where, list string, i int, name string) Where {
	s := fmt.Sprintf("%s[%d]", list, i)
	if name != "" {
		s += fmt.Sprintf(" %q", name)
	}
	if parent != "" {
		return parent + " > " + Where(s)
	}
	return Where(s)
}

// ParseClassifications parses an EMR classification document: a JSON array of configuration
// objects (a single object is accepted too). Parsing is strict, as EMR's API is: member names
// are Classification, Properties and Configurations (case-sensitive), every property value must
// be a JSON string, and Classification must be a non-empty string. Every problem is reported,
// each naming the entry ("classification[1] \"flink-conf\": property \"x\": ..."); source (a
// file name or URL) prefixes the errors. The result is in document order.
func ParseClassifications(data []byte, source string) ([]Classification, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, docErrorf(source, "empty document (expected a JSON array of {\"Classification\": ..., \"Properties\": {...}})")
	}
	var raws []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, docErrorf(source, "malformed JSON: %s", describeJSONError(trimmed, err))
		}
	case '{':
		if !json.Valid(trimmed) {
			var v any
			err := json.Unmarshal(trimmed, &v)
			return nil, docErrorf(source, "malformed JSON: %s", describeJSONError(trimmed, err))
		}
		raws = []json.RawMessage{trimmed}
	default:
		return nil, docErrorf(source, "expected a JSON array of configuration objects, got %q...", firstBytes(trimmed, 20))
	}
	var errs []error
	out := make([]Classification, 0, len(raws))
	for i, raw := range raws {
		c, err := parseOne(raw, "", "classification", i)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", source, errors.Join(errs...))
	}
	return out, nil
}

func firstBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// describeJSONError adds line and column to encoding/json's syntax errors.
func describeJSONError(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := lineCol(data, se.Offset)
		return fmt.Sprintf("line %d, column %d: %v", line, col, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		line, col := lineCol(data, te.Offset)
		return fmt.Sprintf("line %d, column %d: expected an array of objects, found a JSON %s", line, col, te.Value)
	}
	return err.Error()
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// memberNames are the members of a configuration object, as the EMR API spells them.
var memberNames = []string{"Classification", "Properties", "Configurations"}

func parseOne(raw json.RawMessage, parent Where, list string, i int) (Classification, error) {
	w := where(parent, list, i, "")
	if jsonKind(raw) != "object" {
		return Classification{}, entryErrorf(w, "expected an object {\"Classification\": ..., \"Properties\": {...}}, found a JSON %s", jsonKind(raw))
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return Classification{}, entryErrorf(w, "%v", err)
	}
	var c Classification
	// The name first, so that later errors can name the entry.
	if v, ok := members["Classification"]; ok {
		if jsonKind(v) != "string" {
			return c, entryErrorf(w, "\"Classification\" must be a string, found a JSON %s", jsonKind(v))
		}
		_ = json.Unmarshal(v, &c.Classification)
		c.Classification = strings.TrimSpace(c.Classification)
	}
	if c.Classification == "" {
		return c, entryErrorf(w, "missing or empty \"Classification\" (e.g. \"flink-conf\")")
	}
	w = where(parent, list, i, c.Classification)
	var errs []error
	names := make([]string, 0, len(members))
	for k := range members {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch k {
		case "Classification":
		case "Properties":
			v := members[k]
			if jsonKind(v) == "null" {
				continue
			}
			if jsonKind(v) != "object" {
				errs = append(errs, entryErrorf(w, "\"Properties\" must be an object of string values, found a JSON %s", jsonKind(v)))
				continue
			}
			var props map[string]json.RawMessage
			if err := json.Unmarshal(v, &props); err != nil {
				errs = append(errs, entryErrorf(w, "\"Properties\": %v", err))
				continue
			}
			c.Properties = make(map[string]string, len(props))
			pkeys := make([]string, 0, len(props))
			for pk := range props {
				pkeys = append(pkeys, pk)
			}
			sort.Strings(pkeys)
			for _, pk := range pkeys {
				pv := props[pk]
				if jsonKind(pv) != "string" {
					hint := ""
					if k := jsonKind(pv); k == "number" || k == "boolean" {
						hint = fmt.Sprintf(" (quote it: \"%s\")", bytes.TrimSpace(pv))
					}
					errs = append(errs, entryErrorf(w, "property %q: value must be a JSON string, found a JSON %s%s", pk, jsonKind(pv), hint))
					continue
				}
				var s string
				_ = json.Unmarshal(pv, &s)
				if strings.TrimSpace(pk) == "" {
					errs = append(errs, entryErrorf(w, "empty property name"))
					continue
				}
				c.Properties[pk] = s
			}
		case "Configurations":
			v := members[k]
			if jsonKind(v) == "null" {
				continue
			}
			if jsonKind(v) != "array" {
				errs = append(errs, entryErrorf(w, "\"Configurations\" must be an array of configuration objects, found a JSON %s", jsonKind(v)))
				continue
			}
			var subs []json.RawMessage
			if err := json.Unmarshal(v, &subs); err != nil {
				errs = append(errs, entryErrorf(w, "\"Configurations\": %v", err))
				continue
			}
			for j, sub := range subs {
				sc, err := parseOne(sub, w, "configurations", j)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				c.Configurations = append(c.Configurations, sc)
			}
		default:
			hint := ""
			for _, m := range memberNames {
				if strings.EqualFold(k, m) {
					hint = fmt.Sprintf(" (did you mean %q? member names are case-sensitive)", m)
				}
			}
			if hint == "" {
				hint = " (a configuration object has Classification, Properties and Configurations)"
			}
			errs = append(errs, entryErrorf(w, "unknown member %q%s", k, hint))
		}
	}
	return c, errors.Join(errs...)
}

// MarshalClassifications renders classifications as the JSON EMR accepts (2-space indent).
func MarshalClassifications(cls []Classification) ([]byte, error) {
	b, err := json.MarshalIndent(cls, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding classifications: %w", err)
	}
	return append(b, '\n'), nil
}

// EntryError is a problem with one entry of a classification document. It renders as
// `classification[2] "flink-conff": unknown classification (did you mean flink-conf?)` and
// matches ErrClassification with errors.Is.
type EntryError struct {
	// Where names the entry.
	Where Where
	// Err is the problem.
	Err error
}

// Error renders "where: problem".
func (e *EntryError) Error() string { return string(e.Where) + ": " + e.Err.Error() }

// Unwrap returns the problem.
func (e *EntryError) Unwrap() error { return e.Err }

// Is makes every EntryError match ErrClassification.
func (e *EntryError) Is(target error) bool { return target == ErrClassification }

func entryErrorf(w Where, format string, args ...any) error {
	return &EntryError{Where: w, Err: fmt.Errorf(format, args...)}
}

func docErrorf(source, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", source, ErrClassification, fmt.Sprintf(format, args...))
}
