package s3fs

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"path"
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
		n := e.Length
		if n <= 0 {
			n = DefaultEntropyLength
		}
		if repl, err = random(n); err != nil {
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
