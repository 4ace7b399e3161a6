// Package wire encodes and decodes Hadoop IPC packets: the connection preamble, length-prefixed
// frames of varint-delimited protobuf messages, and request/response headers.
package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
)

// Wire constants (org.apache.hadoop.ipc.RpcConstants, Server.AuthProtocol).
const (
	RPCVersion        = 9    // RpcConstants.CURRENT_VERSION
	ServiceClass      = 0    // default service class
	AuthNone          = 0x00 // Server.AuthProtocol.NONE
	AuthSASL          = 0xDF // Server.AuthProtocol.SASL, (byte)-33
	CallIDAuthFailed  = -1   // fake call id of authorization failures
	CallIDInvalid     = -2
	CallIDConnContext = -3
	CallIDPing        = -4
	CallIDSASL        = -33
	RetryCountInvalid = -1
	ClientIDLength    = 16
	MaxResponseSize   = 128 << 20 // ipc.maximum.response.length default
)

// PreambleMagic starts every connection.
var PreambleMagic = []byte("hrpc")

// ErrMalformedResponse reports a response frame that does not follow the Hadoop IPC framing.
var ErrMalformedResponse = errors.New("malformed Hadoop IPC response")

// Preamble returns the 7-byte connection header: "hrpc", version, service class, auth protocol.
//
//	+------+------+------+------+---------+---------------+---------------+
//	| 'h'  | 'r'  | 'p'  | 'c'  | version | service class | auth protocol |
//	+------+------+------+------+---------+---------------+---------------+
//	                              9         0               0x00 | 0xDF
func Preamble(authProtocol byte) []byte {
	return append(append([]byte{}, PreambleMagic...), RPCVersion, ServiceClass, authProtocol)
}

// RequestHeader builds the RpcRequestHeaderProto for a packet. rpcKind and rpcOp are always set
// explicitly: the server rejects headers where they are missing, and RPC_FINAL_PACKET is the zero
// value.
func RequestHeader(callID int32, clientID []byte, retryCount int32) *hadoopproto.RpcRequestHeaderProto {
	return &hadoopproto.RpcRequestHeaderProto{
		RpcKind:    hadoopproto.RpcKindProto_RPC_PROTOCOL_BUFFER.Enum(),
		RpcOp:      hadoopproto.RpcRequestHeaderProto_RPC_FINAL_PACKET.Enum(),
		CallId:     proto.Int32(callID),
		ClientId:   clientID,
		RetryCount: proto.Int32(retryCount),
	}
}

// AppendDelimited appends msg preceded by its varint length.
func AppendDelimited(dst []byte, msg proto.Message) ([]byte, error) {
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("marshalling %s: %w", msg.ProtoReflect().Descriptor().FullName(), err)
	}
	dst = protowire.AppendVarint(dst, uint64(len(b)))
	return append(dst, b...), nil
}

// BuildPacket frames msgs as one packet:
//
//	+----------------------+-------------------------+-----+-------------------------+
//	| int32 BE: total size | varint len | message 1  | ... | varint len | message n  |
//	+----------------------+-------------------------+-----+-------------------------+
//
// A call is [RpcRequestHeaderProto][RequestHeaderProto][request]; the connection context and
// SASL messages have no RequestHeaderProto; a ping is the RpcRequestHeaderProto alone.
func BuildPacket(msgs ...proto.Message) ([]byte, error) {
	out := make([]byte, 4, 256)
	var err error
	for _, m := range msgs {
		if out, err = AppendDelimited(out, m); err != nil {
			return nil, err
		}
	}
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, nil
}

// ReadFrame reads one length-prefixed frame. Frames larger than max are refused; memory is only
// allocated as fast as data actually arrives, so a lying length prefix cannot force a large
// allocation.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lenBuf[:])
	if n > uint32(max) || int64(n) > int64(max) {
		// A reply starting with "HTTP" means we are talking to a web port.
		if bytes.Equal(lenBuf[:], []byte("HTTP")) {
			return nil, fmt.Errorf("%w: the server answered with HTTP; this is a web port, not a Hadoop IPC port", ErrMalformedResponse)
		}
		return nil, fmt.Errorf("%w: frame of %d bytes exceeds the %d-byte limit", ErrMalformedResponse, n, max)
	}
	const direct = 64 << 10
	if n <= direct {
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("reading %d-byte frame: %w", n, unexpectedEOF(err))
		}
		return buf, nil
	}
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, r, int64(n))
	if err != nil {
		return nil, fmt.Errorf("reading %d-byte frame (got %d): %w", n, got, unexpectedEOF(err))
	}
	return buf.Bytes(), nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ConsumeDelimited splits a varint-delimited message off the front of b.
func ConsumeDelimited(b []byte) (msg, rest []byte, err error) {
	size, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return nil, nil, fmt.Errorf("%w: bad varint length prefix", ErrMalformedResponse)
	}
	if size > uint64(len(b)-n) {
		return nil, nil, fmt.Errorf("%w: delimited message of %d bytes, only %d left", ErrMalformedResponse, size, len(b)-n)
	}
	end := n + int(size)
	return b[n:end], b[end:], nil
}

// Response is one decoded response frame.
type Response struct {
	Header *hadoopproto.RpcResponseHeaderProto
	Body   []byte // the serialized response message; nil when absent
}

// CallID returns the header's call id as the signed value the client sent (the response header's
// callId is uint32 on the wire: -33 arrives as 4294967263).
func (r *Response) CallID() int32 { return int32(r.Header.GetCallId()) }

// ParseResponse decodes [delimited RpcResponseHeaderProto][delimited body?].
//
//	+----------------------+----------------------------------+----------------------------------+
//	| int32 BE: total size | varint len | RpcResponseHeader   | varint len | response message    |
//	+----------------------+----------------------------------+----------------------------------+
//	                                                           (absent when status is not SUCCESS)
func ParseResponse(frame []byte) (*Response, error) {
	hdrBytes, rest, err := ConsumeDelimited(frame)
	if err != nil {
		return nil, fmt.Errorf("response header: %w", err)
	}
	hdr := &hadoopproto.RpcResponseHeaderProto{}
	if err := proto.Unmarshal(hdrBytes, hdr); err != nil {
		return nil, fmt.Errorf("%w: decoding RpcResponseHeaderProto: %w", ErrMalformedResponse, err)
	}
	resp := &Response{Header: hdr}
	if len(rest) == 0 {
		return resp, nil
	}
	body, rest, err := ConsumeDelimited(rest)
	if err != nil {
		return nil, fmt.Errorf("response body: %w", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after the response body (RPC response length mismatch)", ErrMalformedResponse, len(rest))
	}
	resp.Body = body
	return resp, nil
}

// ParseRequest decodes a client packet body (without the length prefix) into its request header and
// the remaining delimited messages. It is used by the test server and for decoding wrapped packets.
func ParseRequest(frame []byte) (*hadoopproto.RpcRequestHeaderProto, [][]byte, error) {
	hdrBytes, rest, err := ConsumeDelimited(frame)
	if err != nil {
		return nil, nil, err
	}
	hdr := &hadoopproto.RpcRequestHeaderProto{}
	if err := proto.Unmarshal(hdrBytes, hdr); err != nil {
		return nil, nil, fmt.Errorf("decoding RpcRequestHeaderProto: %w", err)
	}
	var parts [][]byte
	for len(rest) > 0 {
		var m []byte
		if m, rest, err = ConsumeDelimited(rest); err != nil {
			return nil, nil, err
		}
		parts = append(parts, m)
	}
	return hdr, parts, nil
}
