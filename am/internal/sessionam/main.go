// Command sessionam runs am.RunSession, as `flink-go yarn-session-am` does, for the session
// end-to-end test of package am (the CLI command is wired elsewhere).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/flink-go/flink-go/am"
	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
)

func main() {
	conf := configs.New()
	if err := conf.SetAll(cluster.LaunchConfig(), configs.CodeOrigin(cluster.EnvJobConfig)); err != nil {
		fmt.Fprintln(os.Stderr, "sessionam:", err)
		os.Exit(2)
	}
	if err := am.RunSession(context.Background(), conf); err != nil {
		fmt.Fprintln(os.Stderr, "sessionam:", err)
		os.Exit(1)
	}
}
