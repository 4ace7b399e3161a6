package stream

import (
	"cmp"
	"os"

	_ "github.com/flink-go/flink-go/am" // the YARN ApplicationMaster roles
	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
)

func launchConfig() map[string]string { return cluster.LaunchConfig() }

// Execute builds the job graph and runs it as the process's role requires: on an embedded local
// cluster when the binary is run directly or by `flink-go run -t local`, as a plan for the client,
// or as a TaskManager's code. It returns when the job ended (local), with its failure if any.
func (e *Environment) Execute(name string) error {
	if name == "" { // pipeline.name, as Flink's execute() without a name
		name = cmp.Or(e.config[configs.PipelineName.Key()], "flink-go job")
	}
	g, reg, err := e.Graph(name)
	if err != nil {
		return err
	}
	g.Args = os.Args[1:]
	return cluster.Execute(g, reg)
}
