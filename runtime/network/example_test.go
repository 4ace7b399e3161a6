package network_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flink-go/flink-go/runtime/network"
)

// Two "processes" (environments): a producer subtask writes records and a watermark; the
// consumer subtask in the other environment reads them over TCP.
func Example() {
	cfg := network.Config{BindAddress: "127.0.0.1:0", BufferTimeout: 10 * time.Millisecond}
	tm1, err := network.NewEnvironment(cfg)
	if err != nil {
		panic(err)
	}
	defer tm1.Close()
	tm2, err := network.NewEnvironment(cfg)
	if err != nil {
		panic(err)
	}
	defer tm2.Close()

	// Producer: subtask 0 of vertex "source", one consumer subtask.
	id := network.PartitionID{Job: "wordcount", Vertex: "source", Subtask: 0}
	part, err := tm1.CreatePartition(id, 1)
	if err != nil {
		panic(err)
	}
	w := network.NewRecordWriter(part)

	// Consumer: one input channel reading subpartition 0 of that partition at tm1.
	gate, err := tm2.CreateInputGate(context.Background(), []network.ChannelSpec{
		{Partition: id, Subpartition: 0, Addr: tm1.Addr()},
	})
	if err != nil {
		panic(err)
	}
	defer gate.Close()

	go func() {
		for _, word := range []string{"to", "be", "or", "not"} {
			w.Emit(0, func(dst []byte) []byte { return append(dst, word...) })
		}
		w.BroadcastEvent([]byte("watermark"))
		w.Close()
	}()

	r := network.NewRecordReader(gate)
	for {
		ch, rec, ev, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			panic(err)
		}
		if ev != nil {
			fmt.Printf("channel %d event %s\n", ch, ev)
		} else {
			fmt.Printf("channel %d record %s\n", ch, rec)
		}
	}
	// Output:
	// channel 0 record to
	// channel 0 record be
	// channel 0 record or
	// channel 0 record not
	// channel 0 event watermark
}
