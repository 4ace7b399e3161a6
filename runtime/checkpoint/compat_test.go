package checkpoint

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/runtime/serde"
)

func TestCheckCompatibility(t *testing.T) {
	cp := fixture() // op-map (keyed, max 128), op-print (no state), op-sink, op-src (max 4, no keyed state)
	cases := []struct {
		name        string
		ops         []OperatorInfo
		allow       bool
		wantErrs    []error
		notRestored []string
		newOps      []string
		mismatches  int
	}{
		{name: "same job", ops: []OperatorInfo{{"op-map", 128}, {"op-print", 128}, {"op-sink", 1}, {"op-src", 4}}},
		{name: "stateless operator removed, operator added", ops: []OperatorInfo{{"op-map", 128}, {"op-sink", 1}, {"op-src", 4}, {"op-new", 8}},
			newOps: []string{"op-new"}},
		{name: "stateful operator removed", ops: []OperatorInfo{{"op-map", 128}, {"op-src", 4}},
			wantErrs: []error{ErrNonRestoredState}, notRestored: []string{"op-sink"}},
		{name: "stateful operator removed, allowed", ops: []OperatorInfo{{"op-map", 128}, {"op-src", 4}}, allow: true,
			notRestored: []string{"op-sink"}},
		{name: "keyed max parallelism changed", ops: []OperatorInfo{{"op-map", 256}, {"op-sink", 1}, {"op-src", 4}},
			wantErrs: []error{ErrMaxParallelismChanged}, mismatches: 1},
		{name: "non-keyed max parallelism changed is fine", ops: []OperatorInfo{{"op-map", 128}, {"op-sink", 1}, {"op-src", 64}}},
		{name: "both", ops: []OperatorInfo{{"op-map", 64}}, wantErrs: []error{ErrMaxParallelismChanged, ErrNonRestoredState},
			notRestored: []string{"op-sink", "op-src"}, mismatches: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := CheckCompatibility(tc.ops, cp, tc.allow)
			for _, w := range tc.wantErrs {
				if !errors.Is(err, w) {
					t.Errorf("error %v does not wrap %v", err, w)
				}
			}
			if len(tc.wantErrs) == 0 && err != nil {
				t.Errorf("unexpected error %v", err)
			}
			if !reflect.DeepEqual(rep.NotRestored, tc.notRestored) || !reflect.DeepEqual(rep.NewOperators, tc.newOps) || len(rep.Mismatches) != tc.mismatches {
				t.Errorf("report %+v", rep)
			}
		})
	}
	_, err := CheckCompatibility([]OperatorInfo{{"op-map", 512}}, cp, true)
	if err == nil || !strings.Contains(err.Error(), "op-map was checkpointed with max parallelism 128, the job has 512") {
		t.Errorf("message %v", err)
	}
	if _, err := CheckCompatibility(nil, nil, false); err == nil {
		t.Error("nil checkpoint accepted")
	}
}

func TestKeyedStateFor(t *testing.T) {
	// Written at parallelism 2 (key groups 0..63, 64..127); restored at 3 and 1.
	cp := &Completed{ID: 1, Operators: []*OperatorState{{OperatorID: "m", Parallelism: 2, MaxParallelism: 128, Subtasks: []SubtaskState{
		{Subtask: 0, Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRangeFor(128, 2, 0), Files: []StateFile{{Path: "a"}}}}},
		{Subtask: 1, Keyed: []KeyedState{{KeyGroups: serde.KeyGroupRangeFor(128, 2, 1), Files: []StateFile{{Path: "b"}}}}},
	}}}}
	cases := []struct {
		par, sub int
		files    string
		r        serde.KeyGroupRange
	}{
		{3, 0, "a", serde.KeyGroupRange{Start: 0, End: 42}},
		{3, 1, "ab", serde.KeyGroupRange{Start: 43, End: 85}},
		{3, 2, "b", serde.KeyGroupRange{Start: 86, End: 127}},
		{1, 0, "ab", serde.KeyGroupRange{Start: 0, End: 127}},
		{128, 64, "b", serde.KeyGroupRange{Start: 64, End: 64}},
	}
	for _, c := range cases {
		hs, r, err := cp.KeyedStateFor("m", c.par, c.sub)
		if err != nil {
			t.Fatal(err)
		}
		var files string
		for _, h := range hs {
			files += h.Files[0].Path
		}
		if files != c.files || r != c.r {
			t.Errorf("p=%d s=%d: files %q range %v, want %q %v", c.par, c.sub, files, r, c.files, c.r)
		}
	}
	if _, _, err := cp.KeyedStateFor("m", 129, 0); err == nil {
		t.Error("parallelism above max parallelism accepted")
	}
	if _, _, err := cp.KeyedStateFor("m", 2, 2); err == nil {
		t.Error("subtask outside parallelism accepted")
	}
	if hs, _, err := cp.KeyedStateFor("gone", 2, 0); hs != nil || err != nil {
		t.Error("unknown operator")
	}
}
