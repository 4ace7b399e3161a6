package s3fs

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// Entropy is Flink's entropy injection for S3 paths: checkpoint data files
// written below a path that contains Key get Key replaced by Length random
// alphanumeric characters, which spreads them over S3's key-space
// partitions; metadata files (and the directory names the JobManager keeps)
// get Key removed, so they stay at a fixed, findable place. Only the first
// occurrence of Key is touched, and only in s3:// and s3a:// URIs, as in
// Flink's EntropyInjector.
//
// Example with Key "_entropy_" and Length 4:
//
//	s3://b/_entropy_/ckpt/chk-5/f1  data     -> s3://b/x7Qa/ckpt/chk-5/f1
//	s3://b/_entropy_/ckpt/chk-5/_metadata    -> s3://b/ckpt/chk-5/_metadata
type Entropy struct {
	// Key is the marker; empty disables injection.
	Key string
	// Length is the number of random characters (Flink's default 4).
	Length int
}

const alphanumeric = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Resolve rewrites uri: for a data file (forData) the marker becomes random
// characters, otherwise it is removed. URIs of other schemes, and all URIs
// when Key is empty or absent from the path, are returned unchanged.
func (e Entropy) Resolve(uri string, forData bool) (string, error) {
	return e.resolve(uri, forData, randomString)
}

func (e Entropy) resolve(uri string, forData bool, random func(int) (string, error)) (string, error) {
	if e.Key == "" {
		return uri, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("s3fs: entropy injection: parse %q: %w", uri, err)
	}
	if s := strings.ToLower(u.Scheme); s != "s3" && s != "s3a" {
		return uri, nil
	}
	i := strings.Index(u.Path, e.Key)
	if i < 0 {
		return uri, nil
	}
	repl := ""
	if forData {
		if repl, err = random(e.length()); err != nil {
			return "", fmt.Errorf("s3fs: entropy injection: %w", err)
		}
	}
	p := u.Path[:i] + repl + u.Path[i+len(e.Key):]
	trailing := strings.HasSuffix(p, "/") && len(p) > 1
	p = path.Clean("/" + p)
	if trailing && p != "/" {
		p += "/"
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

func randomString(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("random characters: %w", err)
		}
		for _, c := range buf {
			// Reject the top of the byte range so each character is equally likely.
			if int(c) < 256/len(alphanumeric)*len(alphanumeric) && len(out) < n {
				out = append(out, alphanumeric[int(c)%len(alphanumeric)])
			}
		}
	}
	return string(out), nil
}

// InjectEntropy applies the process-wide entropy settings (s3.entropy.key and
// s3.entropy.length, see Configure) to uri: the checkpoint code calls it with
// forData=true for each checkpoint data file it creates, and with
// forData=false for metadata files and checkpoint directories. Without
// s3.entropy.key it returns uri unchanged.
func InjectEntropy(uri string, forData bool) (string, error) {
	opts, err := CurrentOptions()
	if err != nil {
		return "", err
	}
	return Entropy{Key: opts.EntropyKey, Length: opts.EntropyLength}.Resolve(uri, forData)
}

// Active reports whether e would rewrite uri: Key is set and occurs in the
// path of an s3:// or s3a:// URI.
func (e Entropy) Active(uri string) bool {
	if e.Key == "" {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	if s := strings.ToLower(u.Scheme); s != "s3" && s != "s3a" {
		return false
	}
	return strings.Contains(u.Path, e.Key)
}

// ResolveWith replaces the marker in uri with replacement (empty removes it),
// under the same rules as Resolve. Use it where the entropy must be stable,
// e.g. a state backend's shared directory that later checkpoints reuse (see
// Chars).
func (e Entropy) ResolveWith(uri, replacement string) (string, error) {
	return e.resolve(uri, true, func(int) (string, error) { return replacement, nil })
}

// length is the number of characters injected.
func (e Entropy) length() int {
	if e.Length <= 0 {
		return DefaultEntropyLength
	}
	return e.Length
}

// Chars returns Length alphanumeric characters derived from seed (SHA-256):
// the same seed gives the same characters, different seeds spread like random
// ones. For directories that must keep their entropy across calls.
func (e Entropy) Chars(seed []byte) string {
	n := e.length()
	out := make([]byte, 0, n)
	for ctr := uint32(0); len(out) < n; ctr++ {
		h := sha256.New()
		h.Write(seed)
		h.Write([]byte{byte(ctr >> 24), byte(ctr >> 16), byte(ctr >> 8), byte(ctr)})
		for _, c := range h.Sum(nil) {
			if int(c) < 256/len(alphanumeric)*len(alphanumeric) && len(out) < n {
				out = append(out, alphanumeric[int(c)%len(alphanumeric)])
			}
		}
	}
	return string(out)
}

// IsInjected reports whether uri is template (a URI containing the marker)
// with the marker replaced by Length alphanumeric characters, i.e. a data
// path e could have produced from template.
func (e Entropy) IsInjected(template, uri string) bool {
	if !e.Active(template) {
		return false
	}
	i := strings.Index(template, e.Key)
	prefix, suffix := template[:i], template[i+len(e.Key):]
	n := e.length()
	if len(uri) != len(prefix)+n+len(suffix) || !strings.HasPrefix(uri, prefix) || !strings.HasSuffix(uri, suffix) {
		return false
	}
	for _, c := range []byte(uri[len(prefix) : len(prefix)+n]) {
		if strings.IndexByte(alphanumeric, c) < 0 {
			return false
		}
	}
	return true
}

// EntropyFromConfig returns the entropy settings a job uses: s3.entropy.key
// and s3.entropy.length from conf (a job's configuration) when conf sets the
// key, else the process-wide settings (Configure). An invalid length or a key
// containing '/' is an error naming the key.
func EntropyFromConfig(conf map[string]string) (Entropy, error) {
	if _, ok := conf[KeyEntropyKey]; !ok {
		opts, err := CurrentOptions()
		if err != nil {
			return Entropy{}, err
		}
		return Entropy{Key: opts.EntropyKey, Length: opts.EntropyLength}, nil
	}
	e := Entropy{Key: conf[KeyEntropyKey], Length: DefaultEntropyLength}
	if strings.Contains(e.Key, "/") {
		return Entropy{}, fmt.Errorf("s3fs: %s=%q must not contain '/'", KeyEntropyKey, e.Key)
	}
	if v := strings.TrimSpace(conf[KeyEntropyLength]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return Entropy{}, fmt.Errorf("s3fs: %s=%q: want a number of characters from 1 to 64", KeyEntropyLength, v)
		}
		e.Length = n
	}
	return e, nil
}
