package network

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Config fields left at their zero value.
const (
	DefaultSegmentSize             = 32 * 1024
	DefaultTotalBuffers            = 2048 // 64 MiB with 32 KiB segments
	DefaultBuffersPerChannel       = 2
	DefaultFloatingBuffersPerGate  = 8
	DefaultPartitionRequestTimeout = 10 * time.Second
	// MinSegmentSize is the smallest accepted segment size.
	MinSegmentSize = 64
	// MaxSegmentSize caps the segment size (and therefore every data frame on the wire).
	MaxSegmentSize = 16 << 20
)

// Config configures an Environment. Zero fields take the defaults above, except BufferTimeout
// whose zero value means "flush after every record" (as Flink's setBufferTimeout(0)); use
// DefaultBufferTimeout for the usual 100 ms.
type Config struct {
	// BindAddress is the TCP address of the data server, e.g. "127.0.0.1:0"; the port may be a
	// range or list ("0.0.0.0:50100-50200", netutil.Listen). Empty means "127.0.0.1:0".
	BindAddress string
	// ExternalHost is the host name or IP other processes use to reach this one. Empty means the
	// bound IP, or the machine's host name when bound to a wildcard address (0.0.0.0, ::).
	ExternalHost string
	// SegmentSize is the size in bytes of one network buffer (default 32 KiB). All processes of a
	// job must use the same value.
	SegmentSize int
	// TotalBuffers is the global buffer budget of the process: at most TotalBuffers*SegmentSize
	// bytes of network buffers exist at any time.
	TotalBuffers int
	// BuffersPerChannel is the number of exclusive receive buffers (credits) of every remote input
	// channel (Flink default 2). It also sizes a partition's share: n*BuffersPerChannel+floating.
	BuffersPerChannel int
	// FloatingBuffersPerGate is the number of floating receive buffers an input gate may borrow
	// for channels with a backlog (Flink default 8; 0 means the default, negative means none).
	FloatingBuffersPerGate int
	// BufferTimeout is the longest time a record waits in a partially filled buffer: 0 flushes
	// after every record, a negative value flushes only when a buffer is full (or on events,
	// Flush and Close).
	BufferTimeout time.Duration
	// PartitionRequestTimeout is how long a consumer keeps retrying a request for a partition
	// that is not (yet) registered at the producer before it fails (default 10 s).
	PartitionRequestTimeout time.Duration
	// Logger receives connection-level events; nil means no logging.
	Logger *zerolog.Logger
}

// DefaultBufferTimeout is Flink's default buffer timeout.
const DefaultBufferTimeout = 100 * time.Millisecond

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	if c.BindAddress == "" {
		c.BindAddress = "127.0.0.1:0"
	}
	if c.SegmentSize == 0 {
		c.SegmentSize = DefaultSegmentSize
	}
	if c.SegmentSize < MinSegmentSize || c.SegmentSize > MaxSegmentSize {
		return c, fmt.Errorf("network: SegmentSize %d out of range [%d, %d]", c.SegmentSize, MinSegmentSize, MaxSegmentSize)
	}
	if c.TotalBuffers == 0 {
		c.TotalBuffers = DefaultTotalBuffers
	}
	if c.TotalBuffers < 0 {
		return c, fmt.Errorf("network: TotalBuffers %d must be positive", c.TotalBuffers)
	}
	if c.BuffersPerChannel == 0 {
		c.BuffersPerChannel = DefaultBuffersPerChannel
	}
	if c.BuffersPerChannel < 1 {
		return c, fmt.Errorf("network: BuffersPerChannel %d must be at least 1", c.BuffersPerChannel)
	}
	if c.FloatingBuffersPerGate == 0 {
		c.FloatingBuffersPerGate = DefaultFloatingBuffersPerGate
	}
	if c.FloatingBuffersPerGate < 0 {
		c.FloatingBuffersPerGate = 0
	}
	if c.PartitionRequestTimeout == 0 {
		c.PartitionRequestTimeout = DefaultPartitionRequestTimeout
	}
	if c.PartitionRequestTimeout < 0 {
		return c, fmt.Errorf("network: PartitionRequestTimeout %v must be positive", c.PartitionRequestTimeout)
	}
	if c.Logger == nil {
		l := zerolog.Nop()
		c.Logger = &l
	}
	return c, nil
}
