package sinks

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/flink-go/flink-go/connectors/connectortest"
	"github.com/flink-go/flink-go/runtime/op"
)

func TestPrintPrefixes(t *testing.T) {
	var buf bytes.Buffer
	for _, c := range []struct {
		id   string
		k, p int
		want string
	}{
		{"", 0, 1, "v\n"},
		{"", 1, 3, "2> v\n"},
		{"out", 0, 1, "out> v\n"},
		{"out", 2, 4, "out:3> v\n"},
	} {
		buf.Reset()
		w, err := PrintTo[string](&buf, c.id).CreateWriter(connectortest.NewContext(c.k, c.p))
		if err != nil {
			t.Fatal(err)
		}
		w.Write("v", 0)
		if buf.String() != c.want {
			t.Errorf("%+v: got %q", c, buf.String())
		}
	}
	buf.Reset()
	w, _ := PrintTo[struct{ A, B int }](&buf, "").CreateWriter(connectortest.NewContext(0, 1))
	w.Write(struct{ A, B int }{1, 2}, 0)
	if buf.String() != "{1 2}\n" {
		t.Errorf("struct: %q", buf.String())
	}
}

func TestDiscardCounts(t *testing.T) {
	s := Discard[int]()
	var wg sync.WaitGroup
	for k := 0; k < 3; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			w, _ := s.CreateWriter(connectortest.NewContext(k, 3))
			for i := 0; i < 10000; i++ {
				w.Write(i, 0)
			}
			w.Finish()
			w.Close()
		}(k)
	}
	wg.Wait()
	if s.Count() != 30000 {
		t.Fatalf("count %d", s.Count())
	}
}

func TestCollectConcurrent(t *testing.T) {
	name := t.Name()
	defer Reset(name)
	s, err := Collect[string](name)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for k := 0; k < 4; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			w, _ := s.CreateWriter(connectortest.NewContext(k, 4))
			for i := 0; i < 1000; i++ {
				w.Write(fmt.Sprint(k, i), int64(i))
			}
		}(k)
	}
	wg.Wait()
	got, err := Results[string](name)
	if err != nil || len(got) != 4000 {
		t.Fatalf("%d results, %v", len(got), err)
	}
	if _, err := Results[int](name); err == nil {
		t.Fatal("wrong type accepted")
	}
	if _, err := Results[int]("nope"); !errors.Is(err, ErrUnknownCollection) {
		t.Fatalf("unknown name: %v", err)
	}
}

func TestCollectTransactional(t *testing.T) {
	name := t.Name()
	defer Reset(name)
	s, _ := CollectTransactional[int](name)
	w1, _ := s.CreateWriter(connectortest.NewContext(0, 1))
	cw := w1.(op.CommittingSinkWriter[int])
	cw.Write(1, 0)
	cw.Write(2, 0)
	c1, _ := cw.PreCommit(1)
	cw.Write(3, 0)
	if got, _ := Results[int](name); len(got) != 0 {
		t.Fatalf("visible before commit: %v", got)
	}
	cw.Commit(1, [][]byte{c1})
	cw.Commit(1, [][]byte{c1})
	cw.Write(4, 0)
	cw.Close() // failure: 3 and 4 were never pre-committed
	got, _ := Results[int](name)
	if fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("after failure: %v", got)
	}
	if err := cw.Commit(2, [][]byte{{0xff, 0xff}}); err == nil {
		t.Fatal("garbage committable accepted")
	}
}
