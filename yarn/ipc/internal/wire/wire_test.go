package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
)

func TestPreamble(t *testing.T) {
	if got := Preamble(AuthSASL); !bytes.Equal(got, []byte{'h', 'r', 'p', 'c', 9, 0, 0xdf}) {
		t.Fatalf("% x", got)
	}
	if got := Preamble(AuthNone); !bytes.Equal(got, []byte{'h', 'r', 'p', 'c', 9, 0, 0}) {
		t.Fatalf("% x", got)
	}
}

func TestRequestHeaderBytes(t *testing.T) {
	// Connection context header: rpcKind=2, rpcOp=0 (must be present), callId=-3 (sint32 zigzag 5),
	// clientId 16 bytes, retryCount=-1 (zigzag 1).
	cid := bytes.Repeat([]byte{0xab}, 16)
	b, err := proto.Marshal(RequestHeader(CallIDConnContext, cid, RetryCountInvalid))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x08, 0x02, 0x10, 0x00, 0x18, 0x05, 0x22, 0x10}
	want = append(want, cid...)
	want = append(want, 0x28, 0x01)
	if !bytes.Equal(b, want) {
		t.Fatalf("got  % x\nwant % x", b, want)
	}
	// SASL header: callId -33 (zigzag 65 = 0x41), empty but present clientId.
	b, _ = proto.Marshal(RequestHeader(CallIDSASL, []byte{}, RetryCountInvalid))
	if !bytes.Equal(b, []byte{0x08, 0x02, 0x10, 0x00, 0x18, 0x41, 0x22, 0x00, 0x28, 0x01}) {
		t.Fatalf("sasl header % x", b)
	}
}

func TestBuildPacketFraming(t *testing.T) {
	hdr := RequestHeader(0, make([]byte, 16), 0)
	rh := &hadoopproto.RequestHeaderProto{MethodName: proto.String("getClusterMetrics"),
		DeclaringClassProtocolName: proto.String("org.apache.hadoop.yarn.api.ApplicationClientProtocolPB"), ClientProtocolVersion: proto.Uint64(1)}
	req := &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("yarn")}
	pkt, err := BuildPacket(hdr, rh, req)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.BigEndian.Uint32(pkt); int(n) != len(pkt)-4 {
		t.Fatalf("length prefix %d, body %d", n, len(pkt)-4)
	}
	gotHdr, parts, err := ParseRequest(pkt[4:])
	if err != nil {
		t.Fatal(err)
	}
	if gotHdr.GetCallId() != 0 || len(parts) != 2 {
		t.Fatalf("%v %d", gotHdr, len(parts))
	}
	gotRH := &hadoopproto.RequestHeaderProto{}
	if err := proto.Unmarshal(parts[0], gotRH); err != nil || gotRH.GetMethodName() != "getClusterMetrics" || gotRH.GetClientProtocolVersion() != 1 {
		t.Fatalf("%v %v", gotRH, err)
	}
	// Missing required fields are refused rather than sent.
	if _, err := BuildPacket(&hadoopproto.RequestHeaderProto{}); err == nil {
		t.Fatal("incomplete message accepted")
	}
}

func responseFrame(t *testing.T, hdr *hadoopproto.RpcResponseHeaderProto, body proto.Message) []byte {
	t.Helper()
	msgs := []proto.Message{hdr}
	if body != nil {
		msgs = append(msgs, body)
	}
	pkt, err := BuildPacket(msgs...)
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

func TestParseResponse(t *testing.T) {
	ok := responseFrame(t, &hadoopproto.RpcResponseHeaderProto{CallId: proto.Uint32(7), Status: hadoopproto.RpcResponseHeaderProto_SUCCESS.Enum()},
		&hadoopproto.RenewDelegationTokenResponseProto{NewExpiryTime: proto.Uint64(99)})
	frame, err := ReadFrame(bytes.NewReader(ok), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseResponse(frame)
	if err != nil {
		t.Fatal(err)
	}
	body := &hadoopproto.RenewDelegationTokenResponseProto{}
	if r.CallID() != 7 || proto.Unmarshal(r.Body, body) != nil || body.GetNewExpiryTime() != 99 {
		t.Fatalf("%v %v", r.Header, body)
	}

	// An error response has no body; a SASL reply's callId -33 arrives as uint32 4294967263.
	errFrame := responseFrame(t, &hadoopproto.RpcResponseHeaderProto{CallId: proto.Uint32(4294967263), Status: hadoopproto.RpcResponseHeaderProto_ERROR.Enum(),
		ExceptionClassName: proto.String("x.Y"), ErrorMsg: proto.String("boom")}, nil)
	r, err = ParseResponse(errFrame[4:])
	if err != nil {
		t.Fatal(err)
	}
	if r.CallID() != CallIDSASL || r.Body != nil || r.Header.GetErrorMsg() != "boom" {
		t.Fatalf("%d %v", r.CallID(), r.Header)
	}
}

func TestParseResponseMalformed(t *testing.T) {
	cases := map[string][]byte{
		"empty":           {},
		"header too long": {0x7f, 1, 2},
		"bad varint":      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"garbage header":  {0x02, 0xff, 0xff},
		"body too long":   {0x04, 0x08, 0x01, 0x10, 0x00, 0x05, 1},
		"trailing bytes":  {0x04, 0x08, 0x01, 0x10, 0x00, 0x01, 0x00, 0x09},
	}
	for name, b := range cases {
		if _, err := ParseResponse(b); !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestReadFrameLimits(t *testing.T) {
	big := []byte{0x7f, 0xff, 0xff, 0xff}
	if _, err := ReadFrame(bytes.NewReader(big), 1<<20); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("oversized: %v", err)
	}
	_, err := ReadFrame(strings.NewReader("HTTP/1.1 404 Not Found\r\n"), 1<<20)
	if err == nil || !strings.Contains(err.Error(), "web port") {
		t.Fatalf("http: %v", err)
	}
	// A frame that claims 1 MiB but stops early: error, and no 1 MiB allocation up front.
	short := append([]byte{0x00, 0x10, 0x00, 0x00}, make([]byte, 100)...)
	if _, err := ReadFrame(bytes.NewReader(short), 2<<20); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader(nil), 10); err != io.EOF {
		t.Fatalf("eof: %v", err)
	}
}

func FuzzResponseReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 7, 0x04, 0x08, 0x01, 0x10, 0x00, 0x01, 0x00})
	f.Add([]byte{0, 0, 0, 1, 0xff})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for i := 0; i < 4; i++ {
			frame, err := ReadFrame(r, 1<<20)
			if err != nil {
				return
			}
			if len(frame) > len(b) {
				t.Fatalf("frame of %d bytes from %d bytes of input", len(frame), len(b))
			}
			resp, err := ParseResponse(frame)
			if err == nil {
				_ = resp.CallID()
			}
			_, _, _ = ParseRequest(frame)
		}
	})
}
