// Package connectors groups flink-go's sources and sinks. The implementations live in
// subpackages: file (bounded and monitored text files, CSV, rolling file sink), socket (text
// socket source), datagen (generator source), sinks (print, discard, collect) and nexmark (the
// Nexmark data model, generator source and reference queries). Every source implements
// op.Source and every sink op.Sink from package runtime/op; docs/connectors.md describes the
// semantics.
package connectors
