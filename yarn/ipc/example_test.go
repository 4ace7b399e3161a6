package ipc_test

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc"
	"github.com/flink-go/flink-go/yarn/ipc/ipctest"
)

// A client calls a (here: fake) ResourceManager and tells a missing application from other errors.
func Example() {
	rm, _ := ipctest.New(ipctest.Options{Protocol: ipc.ProtocolApplicationClient})
	defer rm.Close()
	rm.Handle("getDelegationToken", func(call *ipctest.Call) (proto.Message, error) {
		return &hadoopproto.GetDelegationTokenResponseProto{Token: &hadoopproto.TokenProto{
			Identifier: []byte("id"), Password: []byte("pw"), Kind: proto.String("RM_DELEGATION_TOKEN"), Service: proto.String(rm.Addr)}}, nil
	})
	rm.Handle("getApplicationReport", func(*ipctest.Call) (proto.Message, error) {
		return nil, &ipctest.Exception{Class: "org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException", Message: "no such app"}
	})

	ctx := context.Background()
	c, err := ipc.Dial(ctx, ipc.Config{Addresses: []string{rm.Addr}, Protocol: ipc.ProtocolApplicationClient, User: "alice"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	resp := &hadoopproto.GetDelegationTokenResponseProto{}
	if err := c.Call(ctx, "getDelegationToken", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("yarn")}, resp); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.GetToken().GetKind())

	err = c.Call(ctx, "getApplicationReport", &hadoopproto.GetDelegationTokenRequestProto{Renewer: proto.String("x")}, nil)
	fmt.Println(errors.Is(err, ipc.ErrApplicationNotFound))
	// Output:
	// RM_DELEGATION_TOKEN
	// true
}
