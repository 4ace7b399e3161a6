// Package network is the data plane of flink-go: it moves serialized records between the
// subtasks of a job, inside one process and between processes.
//
// The model follows Apache Flink's network stack:
//
//   - A producer subtask writes into a ResultPartition through a RecordWriter. The partition has
//     one subpartition per consumer subtask. Records are opaque byte strings, length-prefixed
//     (uvarint) and packed into fixed-size pooled buffers (Config.SegmentSize, 32 KiB by default);
//     a record may span buffers. Events (watermarks, checkpoint barriers) travel as separate
//     buffers, in order with the data, after flushing the partially filled buffer.
//   - The buffer being filled is already queued (as Flink's BufferBuilder): the writer publishes
//     its position with one atomic store per record and takes no lock; consumers take the
//     committed bytes when the buffer is full, before an event, or when a flush was requested by
//     the output flusher (every Config.BufferTimeout) or by Flush.
//   - A two-input operator can read both inputs through one gate (channels of input 1 followed by
//     those of input 2; the channel index tells the input), so one RecordReader.Next and one
//     barrier alignment cover both.
//   - A consumer subtask reads each logical input through an InputGate with one input channel per
//     producer subtask, and a RecordReader that reassembles records per channel.
//   - Local channels (producer in the same Environment) hand buffers over in memory without
//     copying; the buffer returns to the producer's pool when the consumer is done with it.
//   - Remote channels share ONE TCP connection per pair of processes and use credit-based flow
//     control: the consumer grants one credit per free receive buffer (exclusive buffers per
//     channel plus floating buffers per gate), the producer sends only with credit and reports its
//     backlog. A slow consumer therefore backpressures only its own producers.
//
// Memory is bounded: every buffer comes from the Environment's budget of Config.TotalBuffers
// segments, partitions and gates draw bounded shares of it, and writers block (backpressure) when
// their share is used up.
//
// The wire protocol is described in docs/network.md.
package network
