package hdfs

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/flink-go/flink-go/hdfs/internal/tokenauth"
	"github.com/flink-go/flink-go/yarn/security"
)

// DelegationTokenIdentifier is the decoded identifier of an HDFS delegation
// token (AbstractDelegationTokenIdentifier's Writable form).
type DelegationTokenIdentifier struct {
	Owner, Renewer, RealUser string
	IssueDate, MaxDate       time.Time
	SequenceNumber           int32
	MasterKeyID              int32
}

// User is the name the NameNode authenticates the token as: the owner (a
// proxied user when RealUser is set).
func (id DelegationTokenIdentifier) User() string { return id.Owner }

// ParseDelegationTokenIdentifier decodes an HDFS (or WebHDFS) delegation token
// identifier: version byte 0, owner, renewer and real user as Hadoop Text,
// issue and max date (ms) as VLongs, sequence number and master key id as VInts.
func ParseDelegationTokenIdentifier(b []byte) (DelegationTokenIdentifier, error) {
	var id DelegationTokenIdentifier
	if len(b) == 0 || b[0] != 0 {
		return id, fmt.Errorf("hdfs: delegation token identifier: unknown version (first byte of %d)", len(b))
	}
	b = b[1:]
	text := func() (string, error) {
		l, n, err := security.ReadVLong(b)
		if err != nil {
			return "", err
		}
		if l < 0 || int64(len(b)-n) < l {
			return "", fmt.Errorf("text of %d bytes: %w", l, security.ErrTruncated)
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return s, nil
	}
	vlong := func() (int64, error) {
		v, n, err := security.ReadVLong(b)
		if err != nil {
			return 0, err
		}
		b = b[n:]
		return v, nil
	}
	var err error
	if id.Owner, err = text(); err != nil {
		return id, fmt.Errorf("hdfs: delegation token identifier owner: %w", err)
	}
	if id.Renewer, err = text(); err != nil {
		return id, fmt.Errorf("hdfs: delegation token identifier renewer: %w", err)
	}
	if id.RealUser, err = text(); err != nil {
		return id, fmt.Errorf("hdfs: delegation token identifier real user: %w", err)
	}
	var v [4]int64
	for i := range v {
		if v[i], err = vlong(); err != nil {
			return id, fmt.Errorf("hdfs: delegation token identifier: %w", err)
		}
	}
	id.IssueDate, id.MaxDate = time.UnixMilli(v[0]), time.UnixMilli(v[1])
	id.SequenceNumber, id.MasterKeyID = int32(v[2]), int32(v[3])
	if id.Owner == "" {
		return id, errors.New("hdfs: delegation token identifier has no owner")
	}
	return id, nil
}

// DecodeTokenString decodes a token in Hadoop's URL-safe string form
// (Token.encodeToUrlString: what WebHDFS GETDELEGATIONTOKEN returns as
// urlString and `hdfs fetchdt` prints).
func DecodeTokenString(s string) (security.Token, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(s), "="))
	if err != nil {
		return security.Token{}, fmt.Errorf("hdfs: token string is not URL-safe base64: %w", err)
	}
	tok, n, err := security.ReadWritableToken(raw)
	if err != nil {
		return security.Token{}, fmt.Errorf("hdfs: decode token: %w", err)
	}
	if n != len(raw) {
		return security.Token{}, fmt.Errorf("hdfs: decode token: %d trailing bytes", len(raw)-n)
	}
	return tok, nil
}

// SelectDelegationToken picks the HDFS delegation token for a file system from
// a credential set (e.g. security.FromEnvironment() in a YARN container): the
// one whose service is "ha-hdfs:<authority>" or one of addrs (host:port), else
// the only HDFS_DELEGATION_TOKEN there is.
func SelectDelegationToken(creds *security.Credentials, authority string, addrs []string) (security.Token, bool) {
	if creds == nil {
		return security.Token{}, false
	}
	var candidates []security.Token
	for _, at := range creds.Tokens() {
		if at.Token.Kind == security.KindHDFSDelegation {
			candidates = append(candidates, at.Token)
		}
	}
	for _, t := range candidates {
		if t.Service == "ha-hdfs:"+authority || t.Service == authority {
			return t, true
		}
		for _, a := range addrs {
			if t.Service == a || t.Service == TokenService(a) {
				return t, true
			}
		}
	}
	if len(candidates) == 1 {
		return candidates[0], true
	}
	return security.Token{}, false
}

// tokenDialer returns a NamenodeDialFunc that authenticates each new NameNode
// connection with the token before handing it to colinmarc/hdfs. colinmarc
// writes the SIMPLE preamble "hrpc" 9 0 0x00 first; the returned connection
// swallows exactly those 7 bytes (the handshake already sent the SASL
// preamble) and passes everything after it (the connection context, calls)
// through unchanged.
func tokenDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), tok security.Token, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		layer, err := tokenauth.Handshake(conn, tok.Identifier, tok.Password, time.Now().Add(timeout))
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("delegation token login to %s: %w", addr, err)
		}
		pc := &preambleEater{Conn: conn, want: tokenauth.PreambleSimple}
		if layer != nil {
			// Integrity or privacy: the NameNode wraps its responses.
			pc.r = layer.Reader(conn)
		}
		return pc, nil
	}
}

// preambleEater drops the SIMPLE preamble colinmarc writes first and, when a
// SASL security layer is in force, reads through it.
type preambleEater struct {
	net.Conn
	mu   sync.Mutex
	want []byte    // preamble bytes still to swallow
	r    io.Reader // unwrapping reader; nil reads the connection directly
}

func (p *preambleEater) Read(b []byte) (int, error) {
	if p.r != nil {
		return p.r.Read(b)
	}
	return p.Conn.Read(b)
}

func (p *preambleEater) Write(b []byte) (int, error) {
	p.mu.Lock()
	if len(p.want) > 0 {
		n := min(len(p.want), len(b))
		if !bytes.Equal(b[:n], p.want[:n]) {
			p.mu.Unlock()
			return 0, fmt.Errorf("hdfs: token connection: unexpected first bytes %x from the HDFS client", b[:n])
		}
		p.want = p.want[n:]
		p.mu.Unlock()
		if n == len(b) {
			return len(b), nil
		}
		m, err := p.Conn.Write(b[n:])
		return n + m, err
	}
	p.mu.Unlock()
	return p.Conn.Write(b)
}

// UseContainerToken switches o to the HDFS delegation token in the YARN
// container's token file (HADOOP_TOKEN_FILE_LOCATION) when there is one for
// this file system, dropping Kerberos. It reports whether it did. Outside a
// container (no token file) it does nothing.
func (o *Options) UseContainerToken() (bool, error) {
	creds, err := security.FromEnvironment()
	if errors.Is(err, security.ErrNoTokenFile) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("hdfs: read the container's token file: %w", err)
	}
	tok, ok := SelectDelegationToken(creds, o.Authority, o.Addresses)
	if !ok {
		return false, nil
	}
	o.Token = &tok
	o.Kerberos = nil
	return true, nil
}
