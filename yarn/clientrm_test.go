package yarn

import (
	"testing"
	"time"
)

func TestSubmissionToProto(t *testing.T) {
	s := Submission{
		ID: ApplicationID{ClusterTimestamp: 9, ID: 3}, Name: "job", Queue: "q1", Type: "flink-go", Tags: []string{"a", "b"},
		Priority: 5, NodeLabel: "gpu", AMResource: Resource{MemoryMB: 1024, VCores: 2}, MaxAttempts: 3,
		AttemptFailuresValidityInterval: 90 * time.Second, KeepContainersAcrossAttempts: true,
		AM: ContainerLaunchContext{
			Environment: map[string]string{"B": "2", "A": "1"},
			Commands:    []string{"./am"},
			Tokens:      []byte("HDTS"),
		},
	}
	p, err := s.toProto()
	if err != nil {
		t.Fatal(err)
	}
	if p.GetApplicationId().GetId() != 3 || p.GetApplicationName() != "job" || p.GetQueue() != "q1" || p.GetApplicationType() != "flink-go" ||
		len(p.GetApplicationTags()) != 2 || p.GetPriority().GetPriority() != 5 || p.GetNodeLabelExpression() != "gpu" ||
		p.GetResource().GetMemory() != 1024 || p.GetResource().GetVirtualCores() != 2 || p.GetMaxAppAttempts() != 3 ||
		p.GetAttemptFailuresValidityInterval() != 90000 || !p.GetKeepContainersAcrossApplicationAttempts() || p.GetUnmanagedAm() {
		t.Fatalf("submission context: %v", p)
	}
	env := p.GetAmContainerSpec().GetEnvironment()
	if len(env) != 2 || env[0].GetKey() != "A" || string(p.GetAmContainerSpec().GetTokens()) != "HDTS" {
		t.Fatalf("launch context: %v", p.GetAmContainerSpec())
	}
	// Defaults are left to the RM (proto defaults: queue "default", type "YARN", attempts from config).
	p, err = Submission{ID: s.ID, AMResource: s.AMResource}.toProto()
	if err != nil || p.Queue != nil || p.ApplicationType != nil || p.MaxAppAttempts != nil || p.GetQueue() != "default" || p.GetApplicationType() != "YARN" {
		t.Fatalf("defaults: %v %v", p, err)
	}
	if _, err := (Submission{AMResource: s.AMResource}).toProto(); err == nil {
		t.Error("submission without id accepted")
	}
	if _, err := (Submission{ID: s.ID}).toProto(); err == nil {
		t.Error("managed AM without resource accepted")
	}
}
