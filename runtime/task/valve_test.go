package task

import "testing"

func TestValve(t *testing.T) {
	v := newValve(2, -1000)
	if _, adv := v.watermark(0, 10); adv {
		t.Fatal("advanced with channel 1 still at the minimum")
	}
	if wm, adv := v.watermark(1, 5); !adv || wm != 5 {
		t.Fatalf("min of 10 and 5: %d %v", wm, adv)
	}
	// Channel 1 idle: channel 0 alone decides.
	if wm, adv := v.status(1, true); !adv || wm != 10 {
		t.Fatalf("after idle: %d %v", wm, adv)
	}
	// Channel 0 advances, then goes idle too: all idle keeps the highest watermark.
	v.watermark(0, 20)
	if wm, adv := v.status(0, true); adv || wm != 20 || !v.allIdle {
		t.Fatalf("all idle: %d %v %v", wm, adv, v.allIdle)
	}
	// Both idle before the active one advanced: the maximum across channels is emitted.
	w := newValve(2, -1000)
	w.watermark(0, 30)
	w.status(0, true)
	if wm, adv := w.status(1, true); !adv || wm != 30 {
		t.Fatalf("all idle should advance to the max watermark: %d %v", wm, adv)
	}
	// Watermarks never go back.
	if _, adv := w.watermark(1, 3); adv || w.current != 30 {
		t.Fatal("watermark went back")
	}
}
