package serde

import (
	"fmt"
	"math/bits"
)

// Key-group constants, as in Flink's KeyGroupRangeAssignment.
const (
	// DefaultMaxParallelism is the number of key groups when a job sets none.
	DefaultMaxParallelism = 128
	// UpperBoundMaxParallelism is the largest supported number of key groups (2^15).
	UpperBoundMaxParallelism = 1 << 15
)

// KeyGroupRange is the contiguous, inclusive range [Start, End] of key groups one subtask owns,
// as Flink's KeyGroupRange. The empty range is {Start: 0, End: -1}.
type KeyGroupRange struct {
	Start, End int
}

// EmptyKeyGroupRange owns no key group.
var EmptyKeyGroupRange = KeyGroupRange{Start: 0, End: -1}

// Len returns the number of key groups in r.
func (r KeyGroupRange) Len() int {
	if r.End < r.Start {
		return 0
	}
	return r.End - r.Start + 1
}

// Contains reports whether keyGroup lies in r.
func (r KeyGroupRange) Contains(keyGroup int) bool {
	return keyGroup >= r.Start && keyGroup <= r.End
}

// String formats r as "KeyGroupRange{start=0, end=63}" like Flink.
func (r KeyGroupRange) String() string {
	return fmt.Sprintf("KeyGroupRange{start=%d, end=%d}", r.Start, r.End)
}

// Murmur3Sum32 is the 32-bit MurmurHash3 (x86_32 variant) of data with the given seed. It is
// defined bit for bit by the algorithm, so it is stable across processes, builds, platforms and
// Go versions (unlike hash/maphash).
func Murmur3Sum32(data []byte, seed uint32) uint32 {
	const (
		c1 = 0xcc9e2d51
		c2 = 0x1b873593
	)
	h := seed
	n := len(data)
	i := 0
	for ; i+4 <= n; i += 4 {
		k := u32LE(data[i:])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch n - i {
	case 3:
		k ^= uint32(data[i+2]) << 16
		fallthrough
	case 2:
		k ^= uint32(data[i+1]) << 8
		fallthrough
	case 1:
		k ^= uint32(data[i])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// KeyGroupOf returns the key group in [0, maxParallelism) of a key, given the key's serialized
// bytes (its codec's encoding): Murmur3Sum32(keyBytes, 0) mod maxParallelism. The result depends
// only on the bytes and maxParallelism, so it is the same in every process and build — state
// snapshots rely on this. It returns -1 when maxParallelism is not in [1, 2^15].
func KeyGroupOf(keyBytes []byte, maxParallelism int) int {
	if maxParallelism < 1 || maxParallelism > UpperBoundMaxParallelism {
		return -1
	}
	return int(Murmur3Sum32(keyBytes, 0) % uint32(maxParallelism))
}

// CheckParallelism validates a (maxParallelism, parallelism) pair as Flink does: 1 <=
// parallelism <= maxParallelism <= 2^15. Call it when a job graph is built; the key-group
// functions below return sentinel values (-1 or an empty range) for invalid arguments instead
// of panicking.
func CheckParallelism(maxParallelism, parallelism int) error {
	if maxParallelism < 1 || maxParallelism > UpperBoundMaxParallelism {
		return fmt.Errorf("serde: max parallelism %d outside [1, %d]", maxParallelism, UpperBoundMaxParallelism)
	}
	if parallelism < 1 || parallelism > maxParallelism {
		return fmt.Errorf("serde: parallelism %d outside [1, max parallelism %d]: raise the max parallelism or lower the parallelism", parallelism, maxParallelism)
	}
	return nil
}

// KeyGroupRangeFor returns the key groups subtask (0-based) owns when an operator with the given
// max parallelism runs at the given parallelism, as Flink's
// KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex:
//
//	start = ceil(subtask * maxParallelism / parallelism)
//	end   = floor(((subtask+1) * maxParallelism - 1) / parallelism)
//
// The ranges of all subtasks are contiguous, disjoint and cover [0, maxParallelism), and
// SubtaskForKeyGroup maps every key group of the range back to subtask. Invalid arguments
// (see CheckParallelism, and subtask outside [0, parallelism)) give EmptyKeyGroupRange.
func KeyGroupRangeFor(maxParallelism, parallelism, subtask int) KeyGroupRange {
	if CheckParallelism(maxParallelism, parallelism) != nil || subtask < 0 || subtask >= parallelism {
		return EmptyKeyGroupRange
	}
	start := (subtask*maxParallelism + parallelism - 1) / parallelism
	end := ((subtask+1)*maxParallelism - 1) / parallelism
	return KeyGroupRange{Start: start, End: end}
}

// SubtaskForKeyGroup returns the subtask that owns keyGroup, as Flink's
// computeOperatorIndexForKeyGroup: keyGroup * parallelism / maxParallelism. Invalid arguments
// (see CheckParallelism, and keyGroup outside [0, maxParallelism)) give -1.
func SubtaskForKeyGroup(maxParallelism, parallelism, keyGroup int) int {
	if CheckParallelism(maxParallelism, parallelism) != nil || keyGroup < 0 || keyGroup >= maxParallelism {
		return -1
	}
	return keyGroup * parallelism / maxParallelism
}

// DefaultMaxParallelismFor returns Flink's default max parallelism for an operator of the given
// parallelism: 1.5 × parallelism rounded up to a power of two, clamped to [128, 2^15].
func DefaultMaxParallelismFor(parallelism int) int {
	if parallelism < 1 {
		return DefaultMaxParallelism
	}
	want := parallelism + parallelism/2
	if want >= UpperBoundMaxParallelism {
		return UpperBoundMaxParallelism
	}
	p := 1 << bits.Len(uint(want-1))
	if p < DefaultMaxParallelism {
		return DefaultMaxParallelism
	}
	return p
}
