package yarncli

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/flink-go/flink-go/yarn"
	pb "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/urfave/cli/v2"
	"google.golang.org/protobuf/proto"
)

// fakeRM answers ApplicationClientProtocol calls from canned data.
type fakeRM struct {
	spec    yarn.DialSpec
	lastReq proto.Message
	killed  bool
}

func (f *fakeRM) Close() error { return nil }

func (f *fakeRM) Call(_ context.Context, method string, req, resp proto.Message) error {
	f.lastReq = req
	app := &pb.ApplicationReportProto{
		ApplicationId:          &pb.ApplicationIdProto{Id: proto.Int32(7), ClusterTimestamp: proto.Int64(1700000000000)},
		User:                   proto.String("alice"),
		Queue:                  proto.String("default"),
		Name:                   proto.String("wordcount"),
		ApplicationType:        proto.String("flink-go"),
		YarnApplicationState:   pb.YarnApplicationStateProto_RUNNING.Enum(),
		FinalApplicationStatus: pb.FinalApplicationStatusProto_APP_UNDEFINED.Enum(),
		Progress:               proto.Float32(0.5),
		TrackingUrl:            proto.String("http://rm:8088/proxy/application_1700000000000_0007/"),
	}
	switch method {
	case "getApplications":
		proto.Merge(resp, &pb.GetApplicationsResponseProto{Applications: []*pb.ApplicationReportProto{app}})
	case "getApplicationReport":
		if f.killed {
			app.YarnApplicationState = pb.YarnApplicationStateProto_KILLED.Enum()
		}
		proto.Merge(resp, &pb.GetApplicationReportResponseProto{ApplicationReport: app})
	case "forceKillApplication":
		f.killed = true
		proto.Merge(resp, &pb.KillApplicationResponseProto{IsKillCompleted: proto.Bool(true)})
	case "getClusterNodes":
		proto.Merge(resp, &pb.GetClusterNodesResponseProto{NodeReports: []*pb.NodeReportProto{{
			NodeId: &pb.NodeIdProto{Host: proto.String("nm1"), Port: proto.Int32(4545)}, NodeState: pb.NodeStateProto_NS_RUNNING.Enum(),
			HttpAddress: proto.String("nm1:8042"), NumContainers: proto.Int32(2),
			Used:       &pb.ResourceProto{Memory: proto.Int64(1024), VirtualCores: proto.Int32(2)},
			Capability: &pb.ResourceProto{Memory: proto.Int64(8192), VirtualCores: proto.Int32(8)},
		}}})
	case "getClusterMetrics":
		proto.Merge(resp, &pb.GetClusterMetricsResponseProto{ClusterMetrics: &pb.YarnClusterMetricsProto{NumNodeManagers: proto.Int32(2), NumActiveNms: proto.Int32(2)}})
	default:
		return fmt.Errorf("unexpected %s", method)
	}
	return nil
}

func runCLI(t *testing.T, f *fakeRM, args ...string) (string, error) {
	t.Helper()
	dial := func(_ context.Context, spec yarn.DialSpec) (yarn.Conn, error) { f.spec = spec; return f, nil }
	var out bytes.Buffer
	app := &cli.App{Name: "flink-go", Commands: commands([]yarn.Option{yarn.WithDialer(dial)}), Writer: &out, ErrWriter: &out}
	err := app.Run(append([]string{"flink-go"}, args...))
	return out.String(), err
}

func TestApps(t *testing.T) {
	f := &fakeRM{}
	out, err := runCLI(t, f, "yarn", "--rm", "rmhost:8032", "apps", "--state", "running,accepted", "--type", "flink-go")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Total number of applications (application-types: [flink-go], states: [RUNNING, ACCEPTED] and tags: []):1",
		"Application-Id", "application_1700000000000_0007", "wordcount", "flink-go", "RUNNING", "UNDEFINED", "50%",
		"http://rm:8088/proxy/application_1700000000000_0007/",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if f.spec.Addresses[0] != "rmhost:8032" || f.spec.Protocol != yarn.ProtocolClientRM {
		t.Errorf("dial spec %+v", f.spec)
	}
	req := f.lastReq.(*pb.GetApplicationsRequestProto)
	if len(req.GetApplicationStates()) != 2 || req.GetApplicationTypes()[0] != "flink-go" {
		t.Errorf("request %v", req)
	}
	if _, err := runCLI(t, f, "yarn", "--rm", "x:1", "apps", "--state", "ALL"); err != nil || len(f.lastReq.(*pb.GetApplicationsRequestProto).GetApplicationStates()) != 0 {
		t.Errorf("--state ALL: %v %v", err, f.lastReq)
	}
	if _, err := runCLI(t, f, "yarn", "--rm", "x:1", "apps", "--state", "bogus"); err == nil {
		t.Error("bad state accepted")
	}
}

func TestNodesMetricsKill(t *testing.T) {
	f := &fakeRM{}
	out, err := runCLI(t, f, "yarn", "--rm", "rmhost:8032", "nodes")
	if err != nil || !strings.Contains(out, "Total Nodes:1") || !strings.Contains(out, "nm1:4545") || !strings.Contains(out, "RUNNING") {
		t.Fatalf("nodes: %v\n%s", err, out)
	}
	out, err = runCLI(t, f, "yarn", "metrics", "--rm", "rmhost:8032")
	if err != nil || !strings.Contains(out, "NodeManagers") {
		t.Fatalf("metrics: %v\n%s", err, out)
	}
	out, err = runCLI(t, f, "yarn", "--rm", "rmhost:8032", "kill", "application_1700000000000_0007")
	if err != nil || !strings.Contains(out, "Killed application application_1700000000000_0007") || !f.killed {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	out, err = runCLI(t, f, "yarn", "--rm", "rmhost:8032", "kill", "application_1700000000000_0007")
	if err != nil || !strings.Contains(out, "already finished") {
		t.Fatalf("kill twice: %v\n%s", err, out)
	}
	if _, err := runCLI(t, f, "yarn", "--rm", "rmhost:8032", "kill", "app_x"); err == nil {
		t.Error("bad id accepted")
	}
}

func TestNoConfig(t *testing.T) {
	t.Setenv("HADOOP_CONF_DIR", "")
	t.Setenv("YARN_CONF_DIR", "")
	t.Setenv("HADOOP_HOME", "")
	t.Setenv("FLINK_GO_HADOOP_CONF_DIR", "")
	_, err := runCLI(t, &fakeRM{}, "yarn", "apps")
	if err == nil || !strings.Contains(err.Error(), "HADOOP_CONF_DIR") {
		t.Fatalf("want a HADOOP_CONF_DIR hint, got %v", err)
	}
}
