package seqsplit

import "testing"

// FuzzRestore: arbitrary state bytes give an error or a working cursor, never a panic.
func FuzzRestore(f *testing.F) {
	c, _ := New(1, 3, 100)
	c.Next()
	f.Add(c.Snapshot())
	f.Add([]byte{1, 0, 2, 0, 4, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		cur, err := Restore(0, 2, 1000, [][]byte{b})
		if err != nil {
			return
		}
		for i := 0; i < 10; i++ {
			cur.Next()
		}
		cur.Snapshot()
	})
}
