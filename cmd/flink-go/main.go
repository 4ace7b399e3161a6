// Command flink-go is the flink-go CLI: run jobs on the embedded local cluster or a session,
// list and cancel them, print the configuration, and manage YARN.
package main

import (
	"fmt"
	"os"

	"github.com/flink-go/flink-go/client"
)

func main() {
	if err := client.App().Run(client.NormalizeArgs(os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "flink-go:", err)
		os.Exit(client.ExitCode(err))
	}
}
