package ipc

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc/internal/wire"
	"github.com/flink-go/flink-go/yarn/security"
)

// FuzzConnResponses feeds arbitrary server bytes to a client connection, both as replies to calls
// (SIMPLE) and as SASL negotiation replies (TOKEN). The client must fail cleanly, never panic or
// hang.
func FuzzConnResponses(f *testing.F) {
	ok, _ := wire.BuildPacket(&hadoopproto.RpcResponseHeaderProto{CallId: proto.Uint32(0), Status: hadoopproto.RpcResponseHeaderProto_SUCCESS.Enum()},
		&hadoopproto.GetDelegationTokenResponseProto{})
	f.Add(false, ok)
	f.Add(true, ok)
	f.Add(false, []byte{0, 0, 0, 3, 1, 2})
	f.Add(true, append(binary.BigEndian.AppendUint32(nil, 0x7fffffff), 1))
	tok := security.Token{Identifier: []byte("i"), Password: []byte("p")}
	f.Fuzz(func(t *testing.T, sasl bool, data []byte) {
		cfg := Config{Addresses: []string{"fuzz:1"}, Protocol: testProtocol, User: "u", ConnectRounds: 1, PingInterval: -1,
			MaxResponseSize: 1 << 20, ConnectTimeout: time.Second}
		if sasl {
			cfg.Auth = AuthToken
			cfg.Token = &tok
		}
		cfg.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			client, server := net.Pipe()
			go func() {
				go io.Copy(io.Discard, server)
				server.Write(data)
				server.Close()
			}()
			return client, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := Dial(ctx, cfg)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.Call(ctx, "getDelegationToken", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("r")}, &hadoopproto.GetDelegationTokenResponseProto{})
		if ctx.Err() != nil {
			t.Fatal("call hung until the test deadline")
		}
	})
}
