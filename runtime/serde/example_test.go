package serde_test

import (
	"fmt"
	"strings"

	"github.com/flink-go/flink-go/runtime/serde"
)

type Bid struct {
	Auction, Bidder, Price int64
	Channel, URL           string
	DateTime               int64
	Extra                  string
}

func ExampleFor() {
	c, err := serde.For[Bid]()
	if err != nil {
		panic(err)
	}
	buf := c.Append(nil, Bid{Auction: 1, Bidder: 2, Price: 150, Channel: "G", URL: "u", DateTime: -1})
	fmt.Printf("% x\n", buf)
	b, n, err := c.Decode(buf)
	fmt.Println(b.Price, b.Channel, n, err)
	// Output:
	// 02 04 ac 02 01 47 01 75 01 00
	// 150 G 10 <nil>
}

func ExampleFor_unsupported() {
	type Job struct {
		Name string
		Run  func()
	}
	_, err := serde.For[Job]()
	fmt.Println(err)
	// Output:
	// serde: no codec for field Job.Run of type func(): register one with serde.Register
}

// Celsius is stored as tenths of a degree in one zigzag varint by a user codec.
type Celsius float64

type celsiusCodec struct{}

func (celsiusCodec) Append(dst []byte, v Celsius) []byte {
	return serde.AppendVarint(dst, int64(v*10))
}

func (celsiusCodec) Decode(src []byte) (Celsius, int, error) {
	v, n, err := serde.Varint(src)
	return Celsius(v) / 10, n, err
}

func ExampleRegister() {
	serde.Register[Celsius](celsiusCodec{})
	defer serde.Register[Celsius](nil)

	type Reading struct {
		Sensor string
		Temp   Celsius
	}
	c := serde.MustFor[Reading]()
	buf := c.Append(nil, Reading{Sensor: "s1", Temp: 21.5})
	r, _, _ := c.Decode(buf)
	fmt.Printf("%d bytes: %s %.1f\n", len(buf), r.Sensor, r.Temp)
	// Output:
	// 5 bytes: s1 21.5
}

func ExampleKeyGroupOf() {
	const maxParallelism, parallelism = 128, 3
	key := serde.MustFor[serde.Tuple2[string, int64]]().Append(nil, serde.NewTuple2("auction", int64(42)))
	kg := serde.KeyGroupOf(key, maxParallelism)
	sub := serde.SubtaskForKeyGroup(maxParallelism, parallelism, kg)
	r := serde.KeyGroupRangeFor(maxParallelism, parallelism, sub)
	fmt.Println(r.Contains(kg), strings.HasPrefix(r.String(), "KeyGroupRange{"))
	for s := 0; s < parallelism; s++ {
		fmt.Println(serde.KeyGroupRangeFor(maxParallelism, parallelism, s))
	}
	// Output:
	// true true
	// KeyGroupRange{start=0, end=42}
	// KeyGroupRange{start=43, end=85}
	// KeyGroupRange{start=86, end=127}
}
