package netutil

import (
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParsePorts(t *testing.T) {
	for spec, want := range map[string][]int{
		"0":                 {0},
		"6123":              {6123},
		" 50100-50102 ":     {50100, 50101, 50102},
		"50100,50102-50103": {50100, 50102, 50103},
	} {
		got, err := ParsePorts(spec)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParsePorts(%q) = %v, %v; want %v", spec, got, err, want)
		}
	}
	for spec, msg := range map[string]string{
		"":            "empty",
		"http":        "want a number",
		"70000":       "want a number",
		"50200-50100": "end is below the start",
		"0-10":        "cannot start a range",
		"1-":          "want a number",
		"1-65535,1-2": "more than",
	} {
		if _, err := ParsePorts(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParsePorts(%q): error %v, want one containing %q", spec, err, msg)
		}
	}
}

// Listen skips ports in use and takes the next of the range; with all in use it says so.
func TestListenSkipsBusyPorts(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	l, err := Listen("127.0.0.1", strconv.Itoa(port)+",0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := l.Addr().(*net.TCPAddr).Port; got == port || got == 0 {
		t.Fatalf("listened on port %d, want a free port other than the busy %d", got, port)
	}
	if _, err := Listen("127.0.0.1", strconv.Itoa(port)); err == nil || !strings.Contains(err.Error(), "no free port") {
		t.Fatalf("all ports busy: error %v, want 'no free port'", err)
	}
}
