package nexmark

// javaRandom reproduces java.util.Random (a 48-bit linear congruential generator) so that the
// generator draws exactly the numbers the reference Java generators (Beam, nexmark-flink) draw
// for the same seed. It is a value type: seeding one per event costs no allocation.
type javaRandom struct{ seed uint64 }

const (
	jrMultiplier = 0x5DEECE66D
	jrAddend     = 0xB
	jrMask       = (1 << 48) - 1
)

func newJavaRandom(seed int64) javaRandom {
	return javaRandom{seed: (uint64(seed) ^ jrMultiplier) & jrMask}
}

func (r *javaRandom) next(bits uint) int32 {
	r.seed = (r.seed*jrMultiplier + jrAddend) & jrMask
	return int32(int64(r.seed) >> (48 - bits))
}

// nextInt32 is Random.nextInt().
func (r *javaRandom) nextInt32() int32 { return r.next(32) }

// nextIntn is Random.nextInt(bound); bound must be > 0 (callers validate).
func (r *javaRandom) nextIntn(bound int32) int32 {
	rv := r.next(31)
	m := bound - 1
	if bound&m == 0 {
		return int32((int64(bound) * int64(rv)) >> 31)
	}
	for u := rv; ; u = r.next(31) {
		rv = u % bound
		if u-rv+m >= 0 { // int32 overflow check, as Java's loop condition
			return rv
		}
	}
}

// nextInt64 is Random.nextLong().
func (r *javaRandom) nextInt64() int64 {
	hi := int64(r.next(32))
	lo := int64(r.next(32))
	return (hi << 32) + lo
}

// nextFloat64 is Random.nextDouble().
func (r *javaRandom) nextFloat64() float64 {
	hi := int64(r.next(26))
	lo := int64(r.next(27))
	return float64((hi<<27)+lo) * (1.0 / (1 << 53))
}

// nextLongN is Beam's LongGenerator.nextLong(random, n): uniform in [0, n) for n < 2^31-1, a
// (skewed) |nextLong % n| otherwise. n must be > 0.
func (r *javaRandom) nextLongN(n int64) int64 {
	if n < (1<<31)-1 {
		return int64(r.nextIntn(int32(n)))
	}
	v := r.nextInt64() % n
	if v < 0 {
		v = -v
	}
	return v
}
