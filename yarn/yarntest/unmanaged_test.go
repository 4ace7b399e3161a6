package yarntest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flink-go/flink-go/yarn"
	"github.com/flink-go/flink-go/yarn/amkit"
)

// TestUnmanagedAM runs the AM side in the test process (an unmanaged AM): the AMRMToken comes from
// the application report, the test registers with it, asks for 2 containers of different sizes
// through amkit.Loop, starts them on the NodeManagers and checks their exit codes, then
// unregisters and sees FINISHED/SUCCEEDED.
func TestUnmanagedAM(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	app, err := e.rm.GetNewApplication(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.rm.SubmitApplication(ctx, yarn.Submission{ID: app.ID, Name: "yarntest-unmanaged", Type: "flink-go-test", Unmanaged: true}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.rm.WaitForState(ctx, app.ID, 100*time.Millisecond, func(r yarn.ApplicationReport) bool { return r.AMRMToken != nil })
	if err != nil || rep.AMRMToken == nil {
		t.Fatalf("no AMRMToken in the report of the unmanaged AM: %+v, %v", rep, err)
	}
	amrm, err := yarn.NewAMRMClient(e.cfg.SchedulerAddresses, rep.AMRMToken)
	if err != nil {
		t.Fatal(err)
	}
	defer amrm.Close()
	// The attempt may not be LAUNCHED yet when the token shows up: retry registration briefly.
	for i := 0; ; i++ {
		_, err = amrm.Register(ctx, "localhost", 0, "")
		if err == nil {
			break
		}
		if i == 50 {
			t.Fatalf("register: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	nm := yarn.NewNMClient(amrm)
	defer nm.Close()

	small := amkit.Key{Priority: 1, Resource: yarn.Resource{MemoryMB: 128, VCores: 1}}
	large := amkit.Key{Priority: 1, Resource: yarn.Resource{MemoryMB: 384, VCores: 1}}
	var mu sync.Mutex
	exits := map[int64]int32{}   // by memory
	granted := map[int64]int64{} // requested memory -> granted memory
	done := make(chan struct{})
	lctx, lcancel := context.WithCancel(ctx)
	loop, err := amkit.NewLoop(amkit.LoopConfig{
		Client: amrm,
		Launch: func(ctx context.Context, a amkit.Accepted) error {
			mu.Lock()
			granted[a.Key.Resource.MemoryMB] = a.Container.Resource.MemoryMB
			mu.Unlock()
			code := "5"
			if a.Key == large {
				code = "6"
			}
			return nm.StartContainer(ctx, a.Container, yarn.ContainerLaunchContext{Commands: []string{"exit " + code}})
		},
		OnCompleted: func(c amkit.Completion) {
			mu.Lock()
			defer mu.Unlock()
			exits[c.Key.Resource.MemoryMB] = c.ExitStatus
			if len(exits) == 2 {
				close(done)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := loop.Request(small, 1); err != nil {
		t.Fatal(err)
	}
	if err := loop.Request(large, 1); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- loop.Run(lctx) }()
	select {
	case <-done:
	case err := <-errc:
		t.Fatalf("loop ended: %v", err)
	case <-ctx.Done():
		t.Fatal("containers did not complete")
	}
	lcancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if exits[128] != 5 || exits[384] != 6 {
		t.Fatalf("exit codes by container size: %v (granted %v)", exits, granted)
	}
	if granted[128] < 128 || granted[384] < 384 {
		t.Fatalf("containers smaller than asked: %v", granted)
	}
	if err := amrm.Finish(ctx, yarn.FinalSucceeded, "unmanaged ok", ""); err != nil {
		t.Fatal(err)
	}
	rep, err = e.rm.WaitForState(ctx, app.ID, 100*time.Millisecond, func(yarn.ApplicationReport) bool { return false })
	if err != nil || rep.State != yarn.StateFinished || rep.Final != yarn.FinalSucceeded || !strings.Contains(rep.Diagnostics, "unmanaged ok") {
		t.Fatalf("final report %+v, %v", rep, err)
	}
	// Registering a finished attempt again is refused by the RM.
	if _, err := amrm.Allocate(ctx, yarn.AllocateRequest{}); err == nil {
		t.Error("allocate after unregistering succeeded")
	} else {
		t.Logf("allocate after finish: %v", err)
	}
}

// TestRMAddressFailover: with HA-style address lists the client skips a dead RM address.
func TestRMAddressFailover(t *testing.T) {
	e := setup(t)
	cfg := e.cfg
	cfg.RMAddresses = append([]string{freePort(t)}, e.cfg.RMAddresses...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rm, err := yarn.NewClientRM(ctx, cfg)
	if err != nil {
		t.Fatalf("failover to %v: %v", e.cfg.RMAddresses, err)
	}
	defer rm.Close()
	if m, err := rm.GetClusterMetrics(ctx); err != nil || m.NodeManagers != 2 {
		t.Fatalf("metrics %+v, %v", m, err)
	}
	if _, err := rm.GetApplicationReport(ctx, yarn.ApplicationID{ClusterTimestamp: 2, ID: 1}); !errors.Is(err, yarn.ErrApplicationNotFound) {
		t.Fatalf("unknown app: %v", err)
	}
}
