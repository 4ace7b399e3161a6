package security

import (
	"errors"
	"testing"
)

func TestAMRMIdentifierHandBuilt(t *testing.T) {
	// AMRMTokenIdentifierProto{appAttemptId:{application_id:{id:1, cluster_timestamp:1700000000000}, attemptId:2}, keyId:-5}
	app := []byte{0x08, 0x01, 0x10}
	app = append(app, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31) // varint 1700000000000
	attempt := append([]byte{0x0a, byte(len(app))}, app...)
	attempt = append(attempt, 0x10, 0x02)
	b := append([]byte{0x0a, byte(len(attempt))}, attempt...)
	b = append(b, 0x10, 0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01) // int32 -5
	id, err := DecodeAMRMTokenIdentifier(b)
	if err != nil {
		t.Fatal(err)
	}
	if id.Attempt.String() != "appattempt_1700000000000_0001_000002" || id.KeyID != -5 {
		t.Fatalf("%+v %s", id, id.Attempt)
	}
	if id.Attempt.ApplicationID() != "application_1700000000000_0001" {
		t.Fatal(id.Attempt.ApplicationID())
	}
	if got := EncodeAMRMTokenIdentifier(id); string(got) != string(b) {
		t.Fatalf("encode % x\nwant   % x", got, b)
	}
}

func TestNMIdentifierRoundTrip(t *testing.T) {
	in := NMTokenIdentifier{
		Attempt:      ApplicationAttemptID{ClusterTimestamp: 42, AppID: 12345, AttemptID: 1},
		NodeHost:     "node-1.example",
		NodePort:     45454,
		AppSubmitter: "alice",
		KeyID:        7,
	}
	out, err := DecodeNMTokenIdentifier(EncodeNMTokenIdentifier(in))
	if err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("%+v != %+v", out, in)
	}
	if out.NodeAddress() != "node-1.example:45454" || out.Attempt.String() != "appattempt_42_12345_000001" {
		t.Fatal(out.NodeAddress(), out.Attempt)
	}
}

func TestIdentifierGarbage(t *testing.T) {
	for _, b := range [][]byte{{0x0a, 0x10, 1}, {0xff}, {0x0a, 0x02, 0x0a, 0x7f}} {
		if _, err := DecodeNMTokenIdentifier(b); !errors.Is(err, ErrBadIdentifier) {
			t.Errorf("% x: %v", b, err)
		}
		if _, err := DecodeAMRMTokenIdentifier(b); !errors.Is(err, ErrBadIdentifier) {
			t.Errorf("% x: %v", b, err)
		}
	}
}

func FuzzDecodeIdentifiers(f *testing.F) {
	f.Add(EncodeAMRMTokenIdentifier(AMRMTokenIdentifier{Attempt: ApplicationAttemptID{ClusterTimestamp: 1, AppID: 2, AttemptID: 3}, KeyID: 4}))
	f.Add(EncodeNMTokenIdentifier(NMTokenIdentifier{NodeHost: "h", NodePort: 1, AppSubmitter: "u"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if id, err := DecodeAMRMTokenIdentifier(b); err == nil {
			_ = id.Attempt.String()
		}
		if id, err := DecodeNMTokenIdentifier(b); err == nil {
			_ = id.NodeAddress()
			back, err := DecodeNMTokenIdentifier(EncodeNMTokenIdentifier(id))
			if err != nil || back != id {
				t.Fatalf("re-encoding changed %+v to %+v (%v)", id, back, err)
			}
		}
	})
}
