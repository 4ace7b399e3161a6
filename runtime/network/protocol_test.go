package network

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func encodeFrames(t testing.TB, f func(fw *frameWriter) error) []byte {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	fw := &frameWriter{w: bw}
	if err := f(fw); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	return buf.Bytes()
}

func TestFrameRoundTrip(t *testing.T) {
	id := PartitionID{Job: "j/1", Vertex: "map", Subtask: 7, Attempt: 2}
	data := []byte("payload bytes")
	raw := encodeFrames(t, func(fw *frameWriter) error {
		return errors.Join(
			fw.partitionRequest(42, id, 3, 2),
			fw.bufferResponse(42, 9, 5, kindEvent, data),
			fw.addCredit(42, 4),
			fw.cancel(42),
			fw.errorResponse(42, errCodePartitionNotFound, "not here"),
			fw.close(),
		)
	})
	fr := newFrameReader(bufio.NewReader(bytes.NewReader(raw)), 1024)
	f, err := fr.next()
	if err != nil || f.typ != msgPartitionRequest || f.receiver != 42 || f.partition != id || f.subpartition != 3 || f.credit != 2 {
		t.Fatalf("partition request: %+v %v", f, err)
	}
	f, err = fr.next()
	if err != nil || f.typ != msgBufferResponse || f.seq != 9 || f.backlog != 5 || f.kind != kindEvent || f.dataLen != len(data) {
		t.Fatalf("buffer response: %+v %v", f, err)
	}
	got := make([]byte, f.dataLen)
	if err := fr.readData(got); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("data %q %v", got, err)
	}
	if f, err = fr.next(); err != nil || f.typ != msgAddCredit || f.credit != 4 {
		t.Fatalf("add credit: %+v %v", f, err)
	}
	if f, err = fr.next(); err != nil || f.typ != msgCancel || f.receiver != 42 {
		t.Fatalf("cancel: %+v %v", f, err)
	}
	if f, err = fr.next(); err != nil || f.typ != msgError || f.code != errCodePartitionNotFound || f.msg != "not here" {
		t.Fatalf("error: %+v %v", f, err)
	}
	if f, err = fr.next(); err != nil || f.typ != msgClose {
		t.Fatalf("close: %+v %v", f, err)
	}
	if _, err = fr.next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestFrameReaderRejectsMalformed(t *testing.T) {
	mk := func(typ byte, payload []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)+1))
		return append(append(b, typ), payload...)
	}
	cases := map[string][]byte{
		"zero length":      {0, 0, 0, 0, 1},
		"huge control":     {0x7f, 0, 0, 0, msgAddCredit},
		"huge data":        binary.BigEndian.AppendUint32(nil, 1<<30),
		"unknown type":     mk(99, nil),
		"short credit":     mk(msgAddCredit, []byte{1, 2, 3}),
		"trailing bytes":   mk(msgCancel, make([]byte, 9)),
		"bad kind":         mk(msgBufferResponse, append(make([]byte, 16), 7)),
		"short buffer hdr": mk(msgBufferResponse, make([]byte, 3)),
		"truncated":        mk(msgCancel, make([]byte, 8))[:8],
		"long string":      mk(msgError, append(make([]byte, 9), 0xff, 0xff)),
	}
	cases["huge data"] = append(cases["huge data"], msgBufferResponse)
	for name, raw := range cases {
		fr := newFrameReader(bufio.NewReader(bytes.NewReader(raw)), 1024)
		var err error
		for err == nil {
			var f frame
			f, err = fr.next()
			if err == nil && f.typ == msgBufferResponse {
				err = fr.discard(f.dataLen)
			}
		}
		if err == io.EOF {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzFrameReader: arbitrary bytes never panic the decoder, and lengths are capped.
func FuzzFrameReader(f *testing.F) {
	f.Add(encodeFrames(f, func(fw *frameWriter) error {
		return errors.Join(fw.partitionRequest(1, pid("v", 1), 0, 2), fw.addCredit(1, 1), fw.cancel(1), fw.close())
	}))
	f.Add(encodeFrames(f, func(fw *frameWriter) error {
		return errors.Join(fw.bufferResponse(1, 0, 3, kindData, []byte("abc")), fw.errorResponse(0, 1, "boom"))
	}))
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		fr := newFrameReader(bufio.NewReader(bytes.NewReader(raw)), 4096)
		for {
			f, err := fr.next()
			if err != nil {
				return
			}
			if f.typ == msgBufferResponse {
				if f.dataLen < 0 || f.dataLen > 4096 {
					t.Fatalf("data length %d escaped the cap", f.dataLen)
				}
				if err := fr.readData(make([]byte, f.dataLen)); err != nil {
					return
				}
			}
		}
	})
}

// Garbage on a data connection closes that connection only; the server keeps serving.
func TestServerSurvivesGarbage(t *testing.T) {
	e := newTestEnv(t, testConfig())
	for _, garbage := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		append(protocolMagic[:], 0xff, 0xff, 0xff, 0xff, 1),
		append(protocolMagic[:], 0, 0, 0, 2, 77, 0),
	} {
		conn, err := net.Dial("tcp", e.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(garbage)
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.ReadAll(conn); err != nil {
			t.Fatalf("server did not close the connection after garbage %q: %v", garbage, err)
		}
		conn.Close()
	}
	tp := buildTopology(t, e, newTestEnv(t, testConfig()), "after", 1, 1)
	runTopology(t, tp, 10)
}

// A client that reads a malformed response fails its channels with an error, no panic.
func TestClientRejectsMalformedServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		io.ReadFull(conn, make([]byte, 4))
		// A buffer response larger than the client's segment size.
		conn.Write(encodeFrames(t, func(fw *frameWriter) error {
			return fw.bufferResponse(1, 0, 0, kindData, make([]byte, 100_000))
		}))
		time.Sleep(2 * time.Second)
	}()
	cons := newTestEnv(t, testConfig())
	g, err := cons.CreateInputGate(context.Background(), []ChannelSpec{{Partition: pid("evil", 0), Addr: ln.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _, _, err = NewRecordReader(g).Next(ctx)
	mustContain(t, err, "malformed frame")
}
