// Package bootstrap holds the Amazon EMR bootstrap action that installs flink-go on every
// node of a cluster (install-flink-go.sh, a POSIX sh script), embedded in the binary so that
// 'flink-go emr bootstrap-script' prints it and 'flink-go emr publish' uploads it.
package bootstrap

import (
	_ "embed"
)

// ScriptName is the script's file name, also its object name under the publish prefix.
const ScriptName = "install-flink-go.sh"

// BinaryName and ChecksumName are the object names of the binary and its checksum under the
// publish prefix, as the script expects them (--binary-name changes the binary's).
const (
	BinaryName   = "flink-go"
	ChecksumName = "flink-go.sha256"
)

//go:embed install-flink-go.sh
var script []byte

// Script returns the bootstrap script.
func Script() []byte { return append([]byte(nil), script...) }
