package yarn

import (
	"errors"
	"testing"
)

func TestContainerIDRoundTrip(t *testing.T) {
	cases := []struct {
		in    string
		epoch int64
		seq   int64
		app   int32
		att   int32
	}{
		{"container_1410901177871_0001_01_000005", 0, 5, 1, 1},
		{"container_e17_1410901177871_0001_01_000005", 17, 5, 1, 1},
		{"container_1410901177871_12345_03_1234567", 0, 1234567, 12345, 3},
		{"container_e01_1_0002_01_000001", 1, 1, 2, 1},
	}
	for _, c := range cases {
		id, err := ParseContainerID(c.in)
		if err != nil {
			t.Fatalf("parse %q: %v", c.in, err)
		}
		if id.Epoch() != c.epoch || id.Sequence() != c.seq || id.Attempt.App.ID != c.app || id.Attempt.Attempt != c.att {
			t.Errorf("%q parsed to epoch=%d seq=%d app=%d att=%d", c.in, id.Epoch(), id.Sequence(), id.Attempt.App.ID, id.Attempt.Attempt)
		}
		if got := id.String(); got != c.in {
			t.Errorf("String() = %q, want %q", got, c.in)
		}
		if back := containerIDFromProto(id.toProto()); back != id {
			t.Errorf("proto round trip %v != %v", back, id)
		}
	}
}

func TestBadIDs(t *testing.T) {
	for _, s := range []string{"", "container_", "container_x_1_1_1", "container_e_1_1_1_1", "container_1_2_3",
		"application_1", "application_a_1", "app_1_1", "container_1_1_1_-1", "appattempt_1_1"} {
		if _, err := ParseContainerID(s); err == nil || !errors.Is(err, ErrBadID) {
			if _, err2 := ParseApplicationID(s); err2 == nil {
				t.Errorf("%q parsed as an id", s)
			}
		}
	}
	if _, err := ParseApplicationID("application_1_x"); !errors.Is(err, ErrBadID) {
		t.Errorf("want ErrBadID, got %v", err)
	}
}

func TestApplicationAndAttemptIDs(t *testing.T) {
	a, err := ParseApplicationID("application_1700000000000_0042")
	if err != nil || a.ClusterTimestamp != 1700000000000 || a.ID != 42 {
		t.Fatalf("got %+v, %v", a, err)
	}
	if a.String() != "application_1700000000000_0042" {
		t.Errorf("String() = %s", a)
	}
	at, err := ParseAttemptID("appattempt_1700000000000_0042_000002")
	if err != nil || at.App != a || at.Attempt != 2 || at.String() != "appattempt_1700000000000_0042_000002" {
		t.Fatalf("got %+v %s, %v", at, at, err)
	}
	if (ApplicationID{ClusterTimestamp: 5, ID: 12345}).String() != "application_5_12345" {
		t.Error("ids wider than 4 digits must not be truncated")
	}
}
