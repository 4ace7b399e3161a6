package digestmd5

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// jdkServer runs testdata/JdkDigestServer.java: the JDK's own DIGEST-MD5 server, which Hadoop's
// IPC server uses.
type jdkServer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startJDK(t *testing.T, qop, user, password string) *jdkServer {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not found: skipping the JDK cross-check")
	}
	if testing.Short() {
		t.Skip("-short: skipping the JDK cross-check")
	}
	cmd := exec.Command(java, "testdata/JdkDigestServer.java", qop, user, password)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("java stderr: %s", stderr.String())
		}
	})
	return &jdkServer{cmd: cmd, in: in, out: bufio.NewReader(out)}
}

func (j *jdkServer) read(t *testing.T) []byte {
	t.Helper()
	line, err := j.out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading from java: %v", err)
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "ERR ") {
		t.Fatalf("java: %s", line)
	}
	b, err := hex.DecodeString(line)
	if err != nil {
		t.Fatalf("bad hex from java %q: %v", line, err)
	}
	return b
}

func (j *jdkServer) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := fmt.Fprintln(j.in, hex.EncodeToString(b)); err != nil {
		t.Fatal(err)
	}
}

// TestAgainstJDK runs the Go client against the JDK's DIGEST-MD5 server for every QOP, with a
// Hadoop-style Base64 username and password, and exchanges wrapped messages both ways.
func TestAgainstJDK(t *testing.T) {
	user := base64.StdEncoding.EncodeToString([]byte{0x0a, 0x0c, 0x0a, 0x08, 0x08, 0x01, 0x10, 0x80, 0xd0, 0x95, 0xff, 0xbc, 0x31})
	pass := base64.StdEncoding.EncodeToString([]byte("the token password"))
	for _, qop := range []string{QOPAuth, QOPAuthInt, QOPAuthConf} {
		t.Run(qop, func(t *testing.T) {
			j := startJDK(t, qop, user, pass)
			challenge := j.read(t)
			c := &Client{Username: user, Password: pass, ServerID: "default", QOPs: []string{qop}}
			resp, err := c.Respond(challenge)
			if err != nil {
				t.Fatalf("challenge %q: %v", challenge, err)
			}
			j.write(t, resp)
			final := j.read(t)
			if err := c.Verify(final); err != nil {
				t.Fatalf("rspauth from the JDK %q: %v", final, err)
			}
			if got := string(j.read(t)); got != qop {
				t.Fatalf("JDK negotiated %q", got)
			}
			layer, err := c.SecurityLayer()
			if err != nil {
				t.Fatal(err)
			}
			if qop == QOPAuth {
				if layer != nil {
					t.Fatal("auth must not wrap")
				}
				return
			}
			for i, msg := range []string{"first", "second message", strings.Repeat("z", 5000)} {
				j.write(t, layer.Wrap([]byte(msg)))
				if got := string(j.read(t)); got != msg {
					t.Fatalf("message %d: JDK unwrapped %q", i, got)
				}
				back, err := layer.Unwrap(j.read(t))
				if err != nil {
					t.Fatalf("message %d: unwrapping the JDK's reply: %v", i, err)
				}
				if string(back) != "echo:"+msg {
					t.Fatalf("message %d: %q", i, back)
				}
			}
		})
	}
}
