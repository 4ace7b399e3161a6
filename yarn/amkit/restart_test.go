package amkit

import (
	"testing"
	"time"
)

func TestRestartBudget(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b, err := NewRestartBudget(2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at   time.Duration
		want bool
	}{
		{0, true},
		{10 * time.Second, true},
		{20 * time.Second, false}, // third failure within a minute
		{71 * time.Second, true},  // the first two aged out; failures at 20s and 71s remain
		{79 * time.Second, false}, // 20s, 71s, 79s: three within the window
		{200 * time.Second, true},
	}
	for i, s := range steps {
		if got := b.Failure(t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d (t+%v): allowed=%v, want %v", i, s.at, got, s.want)
		}
	}
	if n := b.Recent(t0.Add(200 * time.Second)); n != 1 {
		t.Errorf("recent = %d", n)
	}
	unlimited, _ := NewRestartBudget(-1, 0)
	for i := 0; i < 100; i++ {
		if !unlimited.Failure(t0) {
			t.Fatal("unlimited budget refused")
		}
	}
	if _, err := NewRestartBudget(3, 0); err == nil {
		t.Error("zero window accepted")
	}
}
