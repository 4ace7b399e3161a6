package configs

import "fmt"

// OriginKind says what kind of source a configuration value came from. The kinds are ordered
// by precedence: a later kind overrides an earlier one when Load applies its sources.
type OriginKind int

// The origin kinds, lowest precedence first.
const (
	// OriginDefault is an option's built-in default.
	OriginDefault OriginKind = iota
	// OriginFile is a configuration file (config.yaml or flink-conf.yaml), with a line number.
	OriginFile
	// OriginEnv is an environment variable (FLINK_PROPERTIES).
	OriginEnv
	// OriginClassification is a layer supplied by another system, e.g. an Amazon EMR
	// configuration classification such as "flink-conf".
	OriginClassification
	// OriginDynamic is a -D key=value property on the command line.
	OriginDynamic
	// OriginCode is a value set by the program itself (e.g. a CLI flag like -p, or the JobManager
	// filling in its bound REST port).
	OriginCode
)

var originKindNames = map[OriginKind]string{
	OriginDefault:        "default",
	OriginFile:           "file",
	OriginEnv:            "env",
	OriginClassification: "classification",
	OriginDynamic:        "-D",
	OriginCode:           "code",
}

// String names the kind.
func (k OriginKind) String() string {
	if s, ok := originKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("OriginKind(%d)", int(k))
}

// Origin names where a configuration value came from.
type Origin struct {
	// Kind is the kind of source.
	Kind OriginKind
	// Name identifies the source within its kind: the file path, the environment variable,
	// the classification name, or the flag; empty for defaults and -D.
	Name string
	// Line is the 1-based line in the file or multi-line variable, 0 if not applicable.
	Line int
}

// Predefined origins.
var (
	// DefaultOrigin is the origin of built-in defaults.
	DefaultOrigin = Origin{Kind: OriginDefault}
	// DynamicOrigin is the origin of -D properties.
	DynamicOrigin = Origin{Kind: OriginDynamic}
)

// FileOrigin is the origin of a value at path:line.
func FileOrigin(path string, line int) Origin {
	return Origin{Kind: OriginFile, Name: path, Line: line}
}

// CodeOrigin is the origin of a value set by the program; what names the setter (e.g. "flag -p").
func CodeOrigin(what string) Origin { return Origin{Kind: OriginCode, Name: what} }

// ClassificationOrigin is the origin of a value from an external configuration layer such as
// the EMR classification "flink-conf".
func ClassificationOrigin(name string) Origin {
	return Origin{Kind: OriginClassification, Name: name}
}

// String renders the origin for tables and error messages: "default", "conf/config.yaml:12",
// "-D", "env FLINK_PROPERTIES:3", "classification flink-conf", "flag -p".
func (o Origin) String() string {
	switch o.Kind {
	case OriginDefault:
		return "default"
	case OriginDynamic:
		if o.Name != "" {
			return "-D " + o.Name
		}
		return "-D"
	case OriginFile:
		if o.Line > 0 {
			return fmt.Sprintf("%s:%d", o.Name, o.Line)
		}
		return o.Name
	case OriginEnv:
		if o.Line > 0 {
			return fmt.Sprintf("env %s:%d", o.Name, o.Line)
		}
		return "env " + o.Name
	case OriginClassification:
		return "classification " + o.Name
	case OriginCode:
		if o.Name == "" {
			return "code"
		}
		return o.Name
	}
	return o.Kind.String()
}
