package serde

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD (Linux)
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		t.Skipf("getrusage(RUSAGE_THREAD): %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCPUCostPerOp measures codec cost in thread CPU time rather than wall time, so figures stay
// meaningful on a machine shared with other work (go test -bench reports wall time, which
// includes time the thread spent descheduled). It takes the best of several rounds. Run with
// SERDE_CPU_COST=1 go test -run CPUCost -v ./runtime/serde/
func TestCPUCostPerOp(t *testing.T) {
	if os.Getenv("SERDE_CPU_COST") == "" {
		t.Skip("set SERDE_CPU_COST=1 to measure")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	measure := func(name string, n int, f func(n int)) {
		best := time.Duration(1 << 62)
		for round := 0; round < 7; round++ {
			start := threadCPU(t)
			f(n)
			if d := threadCPU(t) - start; d < best {
				best = d
			}
		}
		t.Logf("%-22s %7.1f ns/op (thread CPU, best of 7 rounds of %d)", name, float64(best.Nanoseconds())/float64(n), n)
	}
	const n = 2_000_000
	bc := MustFor[Bid]()
	ic := MustFor[int64]()
	sc := MustFor[string]()
	buf := make([]byte, 0, 256)
	benc := bc.Append(nil, benchBid)
	ienc := ic.Append(nil, 1_700_000_000_123)
	senc := sc.Append(nil, "user-123456789")
	measure("int64 Append", n, func(n int) {
		for i := 0; i < n; i++ {
			buf = ic.Append(buf[:0], int64(i)*7919)
		}
	})
	measure("int64 Decode", n, func(n int) {
		for i := 0; i < n; i++ {
			v, _, _ := ic.Decode(ienc)
			sink += int(v)
		}
	})
	measure("string Append", n, func(n int) {
		for i := 0; i < n; i++ {
			buf = sc.Append(buf[:0], "user-123456789")
		}
	})
	measure("string Decode", n, func(n int) {
		for i := 0; i < n; i++ {
			v, _, _ := sc.Decode(senc)
			sink += len(v)
		}
	})
	measure("Bid Append", n, func(n int) {
		for i := 0; i < n; i++ {
			buf = bc.Append(buf[:0], benchBid)
		}
	})
	measure("Bid Decode", n, func(n int) {
		for i := 0; i < n; i++ {
			v, _, _ := bc.Decode(benc)
			sink += int(v.Price)
		}
	})
	into := bc.(IntoDecoder[Bid])
	var v Bid
	measure("Bid DecodeInto", n, func(n int) {
		for i := 0; i < n; i++ {
			_, _ = into.DecodeInto(benc, &v)
		}
	})
	measure("Bid hand-written decode", n, func(n int) {
		for i := 0; i < n; i++ {
			v, _ := handDecodeBid(benc)
			sink += int(v.Price)
		}
	})
	// The same four integers without the strings: the decoder's own work, no allocation.
	type bidInts struct{ Auction, Bidder, Price, DateTime int64 }
	ic4 := MustFor[bidInts]().(IntoDecoder[bidInts])
	i4 := MustFor[bidInts]().Append(nil, bidInts{benchBid.Auction, benchBid.Bidder, benchBid.Price, benchBid.DateTime})
	var iv bidInts
	measure("Bid ints-only DecodeInto", n, func(n int) {
		for i := 0; i < n; i++ {
			_, _ = ic4.DecodeInto(i4, &iv)
		}
	})
	key := sc.Append(nil, "user-123456789")
	measure("KeyGroupOf", n, func(n int) {
		for i := 0; i < n; i++ {
			sink += KeyGroupOf(key, 128)
		}
	})
}

// handDecodeBid is the floor for Bid decoding: straight-line code over the same wire bytes,
// with the three strings in one allocation like the derived codec.
func handDecodeBid(b []byte) (Bid, error) {
	var v Bid
	var i int
	next := func() int64 {
		u, n, err := Uvarint(b[i:])
		if err != nil {
			return 0
		}
		i += n
		return unzigzag(u)
	}
	str := func() (int, int) {
		u, n, _ := Uvarint(b[i:])
		i += n
		s := i
		i += int(u)
		return s, int(u)
	}
	v.Auction, v.Bidder, v.Price = next(), next(), next()
	cs, cn := str()
	us, un := str()
	v.DateTime = next()
	es, en := str()
	buf := make([]byte, cn+un+en)
	copy(buf, b[cs:cs+cn])
	copy(buf[cn:], b[us:us+un])
	copy(buf[cn+un:], b[es:es+en])
	v.Channel = unsafe.String(&buf[0], cn)
	v.URL = unsafe.String(&buf[cn], un)
	v.Extra = unsafe.String(&buf[cn+un], en)
	return v, nil
}
