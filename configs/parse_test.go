package configs

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"100 ms", 100 * time.Millisecond, false},
		{"100ms", 100 * time.Millisecond, false},
		{"1 s", time.Second, false},
		{"10 min", 10 * time.Minute, false},
		{"10m", 10 * time.Minute, false},
		{"1h", time.Hour, false},
		{"2 hours", 2 * time.Hour, false},
		{"3 days", 72 * time.Hour, false},
		{"1d", 24 * time.Hour, false},
		{"5 secs", 5 * time.Second, false},
		{"5 seconds", 5 * time.Second, false},
		{"7 MS", 7 * time.Millisecond, false},
		{"250", 250 * time.Millisecond, false},
		{"0", 0, false},
		{"  42  ", 42 * time.Millisecond, false},
		{"3 µs", 3 * time.Microsecond, false},
		{"3 micros", 3 * time.Microsecond, false},
		{"9ns", 9, false},
		{"9 nanoseconds", 9, false},
		{"1 millisecond", time.Millisecond, false},
		{"", 0, true},
		{"   ", 0, true},
		{"ms", 0, true},
		{"-5 s", 0, true},
		{"1.5 s", 0, true},
		{"10 mins x", 0, true},
		{"10 weeks", 0, true},
		{"1h30m", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999999 d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v, want error", tt.in, got)
			} else if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("ParseDuration(%q) error %v does not wrap ErrInvalidValue", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatDurationRoundTrip(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 ms"},
		{100 * time.Millisecond, "100 ms"},
		{10 * time.Minute, "10 min"},
		{90 * time.Second, "90 s"},
		{time.Hour, "1 h"},
		{48 * time.Hour, "2 d"},
		{1500 * time.Microsecond, "1500 µs"},
		{7, "7 ns"},
	}
	for _, tt := range tests {
		got := FormatDuration(tt.d)
		if got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
		back, err := ParseDuration(got)
		if err != nil || back != tt.d {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", tt.d, back, err)
		}
	}
}

func TestParseDurationPlainSeconds(t *testing.T) {
	got, err := YarnHeartbeatInterval.Parse("5")
	if err != nil || got != 5*time.Second {
		t.Fatalf("yarn.heartbeat.interval %q = %v, %v; want 5s", "5", got, err)
	}
	got, err = YarnHeartbeatInterval.Parse("500 ms")
	if err != nil || got != 500*time.Millisecond {
		t.Fatalf("yarn.heartbeat.interval %q = %v, %v; want 500ms", "500 ms", got, err)
	}
}

func TestParseMemorySize(t *testing.T) {
	tests := []struct {
		in      string
		want    MemorySize
		wantErr bool
	}{
		{"1024m", 1024 * MebiByte, false},
		{"1g", GibiByte, false},
		{"512 mb", 512 * MebiByte, false},
		{"1gb", GibiByte, false},
		{"64kb", 64 * KibiByte, false},
		{"64 KB", 64 * KibiByte, false},
		{"1728m", 1728 * MebiByte, false},
		{"4096", 4096, false},
		{"10 b", 10, false},
		{"10 bytes", 10, false},
		{"2 t", 2 * TebiByte, false},
		{"1 tebibytes", TebiByte, false},
		{"3 mebibytes", 3 * MebiByte, false},
		{"0", 0, false},
		{"", 0, true},
		{"mb", 0, true},
		{"1.5g", 0, true},
		{"-1m", 0, true},
		{"12 parsecs", 0, true},
		{"9999999999999t", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseMemorySize(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseMemorySize(%q) = %v, want error", tt.in, got)
			} else if !errors.Is(err, ErrInvalidValue) {
				t.Errorf("ParseMemorySize(%q) error %v does not wrap ErrInvalidValue", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMemorySize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatMemorySize(t *testing.T) {
	tests := []struct {
		m    MemorySize
		want string
	}{
		{0, "0 bytes"},
		{32 * KibiByte, "32 kb"},
		{1728 * MebiByte, "1728 mb"},
		{GibiByte, "1 gb"},
		{1025, "1025 bytes"},
		{3 * TebiByte, "3 tb"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("MemorySize(%d).String() = %q, want %q", int64(tt.m), got, tt.want)
		}
		back, err := ParseMemorySize(tt.want)
		if err != nil || back != tt.m {
			t.Errorf("ParseMemorySize(%q) = %v, %v; want %d", tt.want, back, err, tt.m)
		}
	}
	if got := (1728 * MebiByte).MebiBytes(); got != 1728 {
		t.Errorf("MebiBytes = %d", got)
	}
}

func TestParseBoolIntFloat(t *testing.T) {
	boolTests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"true", true, false}, {"TRUE", true, false}, {" False ", false, false},
		{"yes", false, true}, {"1", false, true}, {"", false, true}, {"t", false, true},
	}
	for _, tt := range boolTests {
		got, err := ParseBool(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseBool(%q) = %v, %v", tt.in, got, err)
		}
	}
	intTests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"12", 12, false}, {" -3 ", -3, false}, {"2147483647", 2147483647, false},
		{"2147483648", 0, true}, {"1.0", 0, true}, {"ten", 0, true}, {"", 0, true},
	}
	for _, tt := range intTests {
		got, err := ParseInt(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseInt(%q) = %v, %v", tt.in, got, err)
		}
	}
	if _, err := ParseInt64("9223372036854775808"); err == nil {
		t.Error("ParseInt64 accepted an overflowing value")
	}
	if v, err := ParseInt64("-9223372036854775808"); err != nil || v != -9223372036854775808 {
		t.Errorf("ParseInt64(min) = %v, %v", v, err)
	}
	floatTests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"1.5", 1.5, false}, {"10", 10, false}, {"1e3", 1000, false},
		{"NaN", 0, true}, {"inf", 0, true}, {"x", 0, true},
	}
	for _, tt := range floatTests {
		got, err := ParseFloat(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseFloat(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestParseEnum(t *testing.T) {
	tests := []struct {
		opt     *Option[RestartStrategyType]
		in      string
		want    RestartStrategyType
		wantErr bool
	}{
		{RestartStrategy, "fixed-delay", RestartFixedDelay, false},
		{RestartStrategy, "FIXED-DELAY", RestartFixedDelay, false},
		{RestartStrategy, "fixeddelay", RestartFixedDelay, false},
		{RestartStrategy, "Exponential-Delay", RestartExponentialDelay, false},
		{RestartStrategy, "off", RestartNone, false},
		{RestartStrategy, "disable", RestartNone, false},
		{RestartStrategy, "sometimes", "", true},
	}
	for _, tt := range tests {
		got, err := tt.opt.Parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s.Parse(%q) = %q, %v; want %q", tt.opt.Key(), tt.in, got, err, tt.want)
		}
	}
	mode, err := CheckpointMode.Parse("at_least_once")
	if err != nil || mode != AtLeastOnce {
		t.Errorf("checkpoint mode at_least_once = %q, %v", mode, err)
	}
	_, err = CheckpointMode.Parse("exactly-once")
	if err == nil || !errors.Is(err, ErrInvalidValue) {
		t.Errorf("checkpoint mode exactly-once: want ErrInvalidValue, got %v", err)
	}
	backend, err := StateBackend.Parse("RocksDB")
	if err != nil || backend != BackendPebble {
		t.Errorf("state backend RocksDB = %q, %v; want pebble", backend, err)
	}
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		in      string
		sep     rune
		want    []string
		wantErr bool
	}{
		{"a;b;c", ';', []string{"a", "b", "c"}, false},
		{"a; b ;c;", ';', []string{"a", "b", "c"}, false},
		{"", ';', nil, false},
		{"   ", ';', nil, false},
		{"single", ';', []string{"single"}, false},
		{"'A;B';C", ';', []string{"A;B", "C"}, false},
		{`"AB'D";B;C`, ';', []string{"AB'D", "B", "C"}, false},
		{`"AB'""D;B";C`, ';', []string{`AB'"D;B`, "C"}, false},
		{`C;'A'`, ';', []string{"C", "A"}, false},
		{`'';x`, ';', []string{"", "x"}, false},
		{`' padded ' ; x`, ';', []string{" padded ", "x"}, false},
		{"hdfs:///a,hdfs:///b", ',', []string{"hdfs:///a", "hdfs:///b"}, false},
		{"t1, t2,,t3", ',', []string{"t1", "t2", "t3"}, false},
		{`'unclosed;x`, ';', nil, true},
		{`ab'c;d`, ';', nil, true},
		{`'a'b;c`, ';', nil, true},
	}
	for _, tt := range tests {
		got, err := SplitList(tt.in, tt.sep)
		if tt.wantErr {
			if err == nil {
				t.Errorf("SplitList(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitList(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatListRoundTrip(t *testing.T) {
	lists := [][]string{
		{"a", "b"},
		{"has;semicolon", "has'quote", `has"double`, " spaced ", ""},
		{"hdfs:///x/y"},
		{},
	}
	for _, l := range lists {
		s := FormatList(l, ';')
		back, err := SplitList(s, ';')
		if err != nil {
			t.Fatalf("SplitList(FormatList(%q)) = %v", l, err)
		}
		if len(l) == 0 && len(back) == 0 {
			continue
		}
		if !reflect.DeepEqual(back, l) {
			t.Errorf("round trip of %q via %q = %q", l, s, back)
		}
	}
}

func TestParseMap(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"k1:v1,k2:v2", map[string]string{"k1": "v1", "k2": "v2"}, false},
		{" k1 : v1 , k2:v2 ", map[string]string{"k1": "v1", "k2": "v2"}, false},
		{"", map[string]string{}, false},
		{`'"a:b":c',d:e`, map[string]string{"a:b": "c", "d": "e"}, false},
		{`'k:"x,y"'`, map[string]string{"k": "x,y"}, false},
		{"k:", map[string]string{"k": ""}, false},
		{"novalue", nil, true},
		{"a:b:c", nil, true},
		{":v", nil, true},
		{"k:1,k:2", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseMap(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseMap(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMap(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	m := map[string]string{"a:b": "c,d", "plain": "v", "q": `it's`}
	back, err := ParseMap(FormatMap(m))
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Errorf("map round trip via %q = %v, %v", FormatMap(m), back, err)
	}
}
