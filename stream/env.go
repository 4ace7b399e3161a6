// Package stream is the public job API of flink-go: a typed, generic DataStream API in the
// style of Apache Flink's. A job is a Go main package that builds a pipeline on an Environment
// and calls Execute; the same binary then serves every role (client, JobManager, TaskManager).
//
// Because Go methods cannot have type parameters, operations that change the record type are
// functions (Map, FlatMap, KeyBy, Process, ...), while those that keep it are methods (Filter,
// Union, Rebalance, SinkTo, ...).
package stream

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/runtime/jobgraph"
	"github.com/flink-go/flink-go/runtime/serde"
	"github.com/flink-go/flink-go/runtime/task"
)

// Environment collects the job's pipeline and settings.
type Environment struct {
	nodes          []*node
	parallelism    int
	maxParallelism int
	config         map[string]string
	chaining       bool
	err            error // first definition error, reported by Execute
}

// NewEnvironment returns an environment configured from the job configuration the binary was
// started with (flink-go run passes -p and -D settings), or the defaults when run directly.
func NewEnvironment() *Environment {
	e := &Environment{config: map[string]string{}, chaining: true}
	for k, v := range launchConfig() {
		e.config[k] = v
	}
	return e
}

// SetParallelism sets the default parallelism of the job's operators (parallelism.default).
func (e *Environment) SetParallelism(p int) *Environment {
	if p <= 0 {
		e.fail(fmt.Errorf("parallelism must be positive, got %d", p))
		return e
	}
	e.parallelism = p
	return e
}

// SetMaxParallelism sets the number of key groups (pipeline.max-parallelism).
func (e *Environment) SetMaxParallelism(p int) *Environment {
	if p <= 0 || p > 32768 {
		e.fail(fmt.Errorf("max parallelism must be in 1..32768, got %d", p))
		return e
	}
	e.maxParallelism = p
	return e
}

// DisableOperatorChaining runs every operator in its own task (pipeline.operator-chaining).
func (e *Environment) DisableOperatorChaining() *Environment { e.chaining = false; return e }

// Configure sets a job configuration option, e.g. "execution.buffer-timeout.interval".
func (e *Environment) Configure(key, value string) *Environment { e.config[key] = value; return e }

// Config returns a configuration value of the job ("" when unset).
func (e *Environment) Config(key string) string { return e.config[key] }

func (e *Environment) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

func (e *Environment) defaultParallelism() int {
	if e.parallelism > 0 {
		return e.parallelism
	}
	if v, err := strconv.Atoi(e.config["parallelism.default"]); err == nil && v > 0 {
		return v
	}
	return 1
}

func (e *Environment) defaultMaxParallelism() int {
	if e.maxParallelism > 0 {
		return e.maxParallelism
	}
	if v, err := strconv.Atoi(e.config["pipeline.max-parallelism"]); err == nil && v > 0 {
		return v
	}
	return 128
}

// checkRuntimeMode refuses the BATCH runtime mode, which flink-go does not implement, rather
// than run a job meant for it in STREAMING mode: bounded jobs then emit intermediate results
// (e.g. updated aggregates) where BATCH emits only final ones. AUTOMATIC is STREAMING unless
// every source is bounded (then BATCH, as in Flink).
func checkRuntimeMode(mode configs.RuntimeMode, bounded bool) error {
	if mode == configs.RuntimeBatch || (mode == configs.RuntimeAutomatic && bounded) {
		return fmt.Errorf("%s=%s: flink-go runs jobs in STREAMING mode only (BATCH execution is not implemented; bounded sources run in STREAMING mode and end the job when they are exhausted, emitting intermediate results too): set %s to STREAMING",
			configs.ExecutionRuntimeMode.Key(), mode, configs.ExecutionRuntimeMode.Key())
	}
	return nil
}

// node is one transformation of the pipeline.
type node struct {
	env            *Environment
	idx            int
	kind           jobgraph.OperatorKind
	typeName       string
	name           string
	uid            string
	parallelism    int
	maxParallelism int
	inputs         []edgeRef
	factory        task.Factory
	keyed          bool
	bounded        bool
	startNewChain  bool
	noChaining     bool
	id             string // computed
}

type edgeRef struct {
	from  *node
	side  string
	part  jobgraph.Partitioning // 0: forward when possible, else rebalance
	input int
}

func (e *Environment) addNode(n *node) *node {
	n.env = e
	n.idx = len(e.nodes)
	e.nodes = append(e.nodes, n)
	return n
}

// Graph compiles the pipeline into a job graph (with operator chaining) and the registry of
// typed factories by operator id.
func (e *Environment) Graph(name string) (*jobgraph.JobGraph, task.Registry, error) {
	if e.err != nil {
		return nil, nil, e.err
	}
	if len(e.nodes) == 0 {
		return nil, nil, fmt.Errorf("the job defines no operators: add a source and a sink before Execute")
	}
	hasSink := false
	for _, n := range e.nodes {
		if n.kind == jobgraph.OperatorKind_SINK {
			hasSink = true
		}
	}
	if !hasSink {
		return nil, nil, fmt.Errorf("the job has no sink: nothing would consume its records (add SinkTo, Print or DiscardingSink)")
	}
	// Quiet: the process that runs the graph parses the same configuration again
	// (cluster.settings) and logs its warnings (deprecated keys, keys without effect) once.
	conf := configs.New().WithLogger(zerolog.Nop())
	if err := conf.SetAll(e.config, configs.CodeOrigin("job")); err != nil {
		return nil, nil, fmt.Errorf("job configuration: %w", err)
	}
	chaining := e.chaining && configs.Get(conf, configs.OperatorChaining)
	par := make([]int, len(e.nodes))
	maxPar := make([]int, len(e.nodes))
	reg := registry{}
	seen := map[string]int{}
	uids := map[string]bool{}
	bounded := true
	for i, n := range e.nodes {
		par[i] = n.parallelism
		if par[i] <= 0 {
			par[i] = e.defaultParallelism()
		}
		maxPar[i] = n.maxParallelism
		if maxPar[i] <= 0 {
			maxPar[i] = e.defaultMaxParallelism()
		}
		if err := serde.CheckParallelism(maxPar[i], par[i]); err != nil {
			return nil, nil, fmt.Errorf("operator %q: %w", n.name, err)
		}
		if n.kind == jobgraph.OperatorKind_SOURCE && !n.bounded {
			bounded = false
		}
		if n.uid != "" {
			if uids[n.uid] {
				return nil, nil, fmt.Errorf("UID %q is used by more than one operator", n.uid)
			}
			uids[n.uid] = true
			n.id = hashID("uid:" + n.uid)
		} else {
			var sb strings.Builder
			sb.WriteString(n.typeName)
			for _, in := range n.inputs {
				fmt.Fprintf(&sb, "|%s/%s/%d", in.from.id, in.side, in.input)
			}
			sig := sb.String()
			seen[sig]++
			n.id = hashID(fmt.Sprintf("%s#%d", sig, seen[sig]))
		}
		reg[n.id] = n.factory
	}
	if err := checkRuntimeMode(configs.Get(conf, configs.ExecutionRuntimeMode), bounded); err != nil {
		return nil, nil, err
	}
	// Resolve partitioning and chaining.
	chainable := func(n *node, in edgeRef) bool {
		return chaining && len(n.inputs) == 1 && !n.startNewChain && !n.noChaining && !in.from.noChaining &&
			n.kind != jobgraph.OperatorKind_SOURCE && in.part == jobgraph.Partitioning_FORWARD &&
			par[in.from.idx] == par[n.idx] && maxPar[in.from.idx] == maxPar[n.idx]
	}
	for i, n := range e.nodes {
		for j := range n.inputs {
			in := &n.inputs[j]
			if in.part == jobgraph.Partitioning_PARTITIONING_UNSPECIFIED {
				if par[in.from.idx] == par[i] {
					in.part = jobgraph.Partitioning_FORWARD
				} else {
					in.part = jobgraph.Partitioning_REBALANCE
				}
			}
			if in.part == jobgraph.Partitioning_FORWARD && par[in.from.idx] != par[i] {
				return nil, nil, fmt.Errorf("forward partitioning between %q (parallelism %d) and %q (parallelism %d) needs equal parallelism", in.from.name, par[in.from.idx], n.name, par[i])
			}
		}
	}
	vertexOf := make([]*jobgraph.Vertex, len(e.nodes))
	var vertices []*jobgraph.Vertex
	for i, n := range e.nodes {
		o := &jobgraph.Operator{Id: n.id, Uid: n.uid, Name: n.name, Kind: n.kind, Node: int32(i), TypeName: n.typeName, Keyed: n.keyed}
		if len(n.inputs) == 1 && chainable(n, n.inputs[0]) {
			v := vertexOf[n.inputs[0].from.idx]
			v.Operators = append(v.Operators, o)
			v.Links = append(v.Links, &jobgraph.ChainLink{FromOperator: n.inputs[0].from.id, ToOperator: n.id, ToInput: int32(n.inputs[0].input), SideOutput: n.inputs[0].side})
			v.Name += " -> " + n.name
			vertexOf[i] = v
			continue
		}
		v := &jobgraph.Vertex{Id: n.id, Name: n.name, Parallelism: int32(par[i]), MaxParallelism: int32(maxPar[i]), Operators: []*jobgraph.Operator{o}}
		vertices = append(vertices, v)
		vertexOf[i] = v
	}
	edgeN := 0
	for i, n := range e.nodes {
		for _, in := range n.inputs {
			if len(n.inputs) == 1 && chainable(n, in) {
				continue
			}
			edgeN++
			ed := &jobgraph.Edge{
				Id:                   fmt.Sprintf("e%d-%s", edgeN, n.id[:8]),
				SourceVertex:         vertexOf[in.from.idx].Id,
				SourceOperator:       in.from.id,
				TargetVertex:         vertexOf[i].Id,
				TargetOperator:       n.id,
				TargetInput:          int32(in.input),
				Partitioning:         in.part,
				SideOutput:           in.side,
				TargetMaxParallelism: int32(maxPar[i]),
			}
			vertexOf[in.from.idx].Outputs = append(vertexOf[in.from.idx].Outputs, ed)
			vertexOf[i].Inputs = append(vertexOf[i].Inputs, ed)
		}
	}
	cfg := map[string]string{}
	for k, v := range e.config {
		cfg[k] = v
	}
	g := &jobgraph.JobGraph{FormatVersion: 1, Name: name, Vertices: vertices, Config: cfg, Bounded: bounded}
	return g, reg, nil
}

func hashID(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

type registry map[string]task.Factory

func (r registry) Factory(id string) (task.Factory, error) {
	f, ok := r[id]
	if !ok {
		return nil, fmt.Errorf("operator %s is not part of this job binary's graph: was the binary rebuilt with a different pipeline, or started with different arguments?", id)
	}
	return f, nil
}
