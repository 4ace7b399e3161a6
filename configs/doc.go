// Package configs holds flink-go's configuration: typed options with Flink's keys, defaults
// and value syntax; the loaders for Flink 2's config.yaml, the legacy flink-conf.yaml,
// FLINK_PROPERTIES, overlays (EMR classifications) and -D properties; the origin of every
// value; and the printers behind `flink-go config`, docs/configuration.md and conf/config.yaml.
//
// Options are declared once, at package level, and read with Get:
//
//	var Parallelism = configs.Int("parallelism.default", 1, "Default parallelism of jobs.")
//
//	conf, err := configs.Load(configs.LoadOptions{ConfDir: "conf", Dynamic: []string{"parallelism.default=4"}})
//	if err != nil { ... }                 // every problem, each naming key and file:line
//	p := configs.Get(conf, configs.Parallelism)
//
// Values are kept as text in Flink's syntax and validated when set, so Get cannot fail. Set
// rejects unknown keys (with a "did you mean" hint) except in the pass-through namespaces
// (flink.hadoop.*, env.*, user.*, ...), maps deprecated keys to their current names, and records
// each value's Origin: default, file:line, env, classification, -D or code. Precedence, lowest
// first: defaults < configuration file < FLINK_PROPERTIES < overlays < -D < values set by code.
//
// Validate checks rules between options (e.g. filesystem checkpoint storage needs a checkpoint
// directory); Map and Redacted flatten a configuration to ship it; Render prints it with origins.
//
// The package does no I/O except in Load (reading the configuration directory); the parsers
// (ParseYAML, ParseFlat, ParseDynamic, ParseDuration, ParseMemorySize, SplitList, ParseMap) work
// on bytes and strings.
package configs
