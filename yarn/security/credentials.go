// Package security reads and writes Hadoop credentials: security tokens, the "HDTS" token storage
// format (Writable version 0 and protobuf version 1) used for token files and for the tokens field of
// a YARN ContainerLaunchContext, and the YARN token identifiers (AMRMToken, NMToken) that a client
// needs to decode.
package security

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
)

// Token kinds used by YARN and HDFS.
const (
	KindAMRMToken        = "YARN_AM_RM_TOKEN"
	KindNMToken          = "NMToken"
	KindContainerToken   = "ContainerToken"
	KindRMDelegation     = "RM_DELEGATION_TOKEN"
	KindHDFSDelegation   = "HDFS_DELEGATION_TOKEN"
	KindClientToAMToken  = "YARN_CLIENT_TOKEN"
	TokenFileEnvVariable = "HADOOP_TOKEN_FILE_LOCATION"
)

// Format selects the token storage format.
type Format byte

const (
	// FormatWritable is the legacy Writable format (version byte 0), Hadoop 3's default.
	FormatWritable Format = 0
	// FormatProtobuf is the protobuf format (version byte 1): a delimited CredentialsProto.
	FormatProtobuf Format = 1
)

// tokenStorageMagic starts every token storage stream.
var tokenStorageMagic = []byte("HDTS")

// MaxTokenStorageSize caps how much a token storage stream may hold (token files are a few KiB).
const MaxTokenStorageSize = 16 << 20

// ErrNoTokenFile is returned by FromEnvironment when HADOOP_TOKEN_FILE_LOCATION is not set.
var ErrNoTokenFile = errors.New("HADOOP_TOKEN_FILE_LOCATION is not set (not running in a YARN container?)")

// ErrBadTokenStorage reports input that is not a valid token storage stream.
var ErrBadTokenStorage = errors.New("invalid Hadoop token storage")

// Token is a Hadoop security token (org.apache.hadoop.security.token.Token).
type Token struct {
	Identifier []byte
	Password   []byte
	Kind       string
	Service    string
}

// Proto converts the token to its wire message.
func (t Token) Proto() *hadoopproto.TokenProto {
	return &hadoopproto.TokenProto{
		Identifier: append([]byte{}, t.Identifier...),
		Password:   append([]byte{}, t.Password...),
		Kind:       proto.String(t.Kind),
		Service:    proto.String(t.Service),
	}
}

// TokenFromProto converts a wire token; a nil message gives an error.
func TokenFromProto(p *hadoopproto.TokenProto) (Token, error) {
	if p == nil {
		return Token{}, fmt.Errorf("nil TokenProto: %w", ErrBadTokenStorage)
	}
	return Token{
		Identifier: append([]byte{}, p.GetIdentifier()...),
		Password:   append([]byte{}, p.GetPassword()...),
		Kind:       p.GetKind(),
		Service:    p.GetService(),
	}, nil
}

// String describes the token without its password.
func (t Token) String() string {
	return fmt.Sprintf("Token(kind=%q, service=%q, identifier=%d bytes)", t.Kind, t.Service, len(t.Identifier))
}

// AliasedToken is a token with the alias it is stored under.
type AliasedToken struct {
	Alias string
	Token Token
}

type secretEntry struct {
	alias string
	key   []byte
}

// Credentials is a set of tokens and secret keys, each under an alias
// (org.apache.hadoop.security.Credentials). Insertion order is kept so serialization is
// deterministic. The zero value is an empty set ready to use; it is not safe for concurrent
// mutation.
type Credentials struct {
	tokens  []AliasedToken
	secrets []secretEntry
}

// AddToken stores t under alias, replacing a token stored there before.
func (c *Credentials) AddToken(alias string, t Token) {
	for i := range c.tokens {
		if c.tokens[i].Alias == alias {
			c.tokens[i].Token = t
			return
		}
	}
	c.tokens = append(c.tokens, AliasedToken{Alias: alias, Token: t})
}

// Token returns the token stored under alias.
func (c *Credentials) Token(alias string) (Token, bool) {
	for _, e := range c.tokens {
		if e.Alias == alias {
			return e.Token, true
		}
	}
	return Token{}, false
}

// Tokens returns all tokens in insertion order.
func (c *Credentials) Tokens() []AliasedToken {
	return append([]AliasedToken(nil), c.tokens...)
}

// RemoveToken deletes the token under alias and reports whether there was one.
func (c *Credentials) RemoveToken(alias string) bool {
	for i, e := range c.tokens {
		if e.Alias == alias {
			c.tokens = append(c.tokens[:i], c.tokens[i+1:]...)
			return true
		}
	}
	return false
}

// RemoveKind deletes every token of the given kind and returns how many went. Use it to strip the
// YARN_AM_RM_TOKEN before passing an AM's credentials on to its containers.
func (c *Credentials) RemoveKind(kind string) int {
	kept := c.tokens[:0]
	for _, e := range c.tokens {
		if e.Token.Kind != kind {
			kept = append(kept, e)
		}
	}
	n := len(c.tokens) - len(kept)
	c.tokens = kept
	return n
}

// FindByKind returns the first token of the given kind (e.g. KindAMRMToken, whose alias and service
// are empty).
func (c *Credentials) FindByKind(kind string) (Token, bool) {
	for _, e := range c.tokens {
		if e.Token.Kind == kind {
			return e.Token, true
		}
	}
	return Token{}, false
}

// Find returns the first token with the given kind and service (like Hadoop's token selectors).
func (c *Credentials) Find(kind, service string) (Token, bool) {
	for _, e := range c.tokens {
		if e.Token.Kind == kind && e.Token.Service == service {
			return e.Token, true
		}
	}
	return Token{}, false
}

// AddSecret stores a secret key under alias, replacing an earlier one.
func (c *Credentials) AddSecret(alias string, key []byte) {
	key = append([]byte{}, key...)
	for i := range c.secrets {
		if c.secrets[i].alias == alias {
			c.secrets[i].key = key
			return
		}
	}
	c.secrets = append(c.secrets, secretEntry{alias: alias, key: key})
}

// Secret returns the secret key stored under alias.
func (c *Credentials) Secret(alias string) ([]byte, bool) {
	for _, e := range c.secrets {
		if e.alias == alias {
			return append([]byte{}, e.key...), true
		}
	}
	return nil, false
}

// SecretAliases lists the aliases of all secret keys in insertion order.
func (c *Credentials) SecretAliases() []string {
	out := make([]string, 0, len(c.secrets))
	for _, e := range c.secrets {
		out = append(out, e.alias)
	}
	return out
}

// Merge adds all tokens and secrets of other, overwriting entries with the same alias.
func (c *Credentials) Merge(other *Credentials) {
	if other == nil {
		return
	}
	for _, e := range other.tokens {
		c.AddToken(e.Alias, e.Token)
	}
	for _, e := range other.secrets {
		c.AddSecret(e.alias, e.key)
	}
}

// Clone returns a deep copy.
func (c *Credentials) Clone() *Credentials {
	out := &Credentials{}
	out.Merge(c)
	return out
}

// Marshal serializes the credentials as a token storage stream ("HDTS", version byte, body). The
// result is what Hadoop writes to token files and what a ContainerLaunchContext's tokens field
// holds.
func (c *Credentials) Marshal(format Format) ([]byte, error) {
	out := append([]byte{}, tokenStorageMagic...)
	out = append(out, byte(format))
	switch format {
	case FormatWritable:
		return c.appendWritable(out), nil
	case FormatProtobuf:
		msg := &hadoopproto.CredentialsProto{}
		for _, e := range c.tokens {
			msg.Tokens = append(msg.Tokens, &hadoopproto.CredentialsKVProto{Alias: proto.String(e.Alias), Token: e.Token.Proto()})
		}
		for _, e := range c.secrets {
			msg.Secrets = append(msg.Secrets, &hadoopproto.CredentialsKVProto{Alias: proto.String(e.alias), Secret: append([]byte{}, e.key...)})
		}
		body, err := proto.Marshal(msg)
		if err != nil {
			return nil, fmt.Errorf("marshalling CredentialsProto: %w", err)
		}
		out = protowire.AppendVarint(out, uint64(len(body)))
		return append(out, body...), nil
	default:
		return nil, fmt.Errorf("unknown token storage format %d (want 0 = Writable or 1 = protobuf)", format)
	}
}

// MarshalContainerTokens serializes the credentials for ContainerLaunchContextProto.tokens, in the
// Writable format that YARN's own clients write (Credentials.writeTokenStorageToStream).
func (c *Credentials) MarshalContainerTokens() []byte {
	b, _ := c.Marshal(FormatWritable) // the Writable format cannot fail
	return b
}

func (c *Credentials) appendWritable(out []byte) []byte {
	out = AppendVLong(out, int64(len(c.tokens)))
	for _, e := range c.tokens {
		out = appendText(out, e.Alias)
		out = AppendToken(out, e.Token)
	}
	out = AppendVLong(out, int64(len(c.secrets)))
	for _, e := range c.secrets {
		out = appendText(out, e.alias)
		out = appendBytes(out, e.key)
	}
	return out
}

// AppendToken appends the Writable form of t (Token.write): identifier, password, kind, service.
func AppendToken(dst []byte, t Token) []byte {
	dst = appendBytes(dst, t.Identifier)
	dst = appendBytes(dst, t.Password)
	dst = appendText(dst, t.Kind)
	return appendText(dst, t.Service)
}

// Unmarshal parses a token storage stream in either format. Trailing bytes after the body are
// ignored, as Hadoop does.
func Unmarshal(b []byte) (*Credentials, error) {
	if len(b) > MaxTokenStorageSize {
		return nil, fmt.Errorf("token storage of %d bytes exceeds the %d-byte limit: %w", len(b), MaxTokenStorageSize, ErrBadTokenStorage)
	}
	if len(b) < len(tokenStorageMagic)+1 || !bytes.Equal(b[:4], tokenStorageMagic) {
		return nil, fmt.Errorf("missing %q magic (is this a Hadoop token file?): %w", tokenStorageMagic, ErrBadTokenStorage)
	}
	body := b[5:]
	switch Format(b[4]) {
	case FormatWritable:
		return parseWritable(body)
	case FormatProtobuf:
		return parseProtobuf(body)
	default:
		return nil, fmt.Errorf("unknown token storage version %d (want 0 or 1): %w", b[4], ErrBadTokenStorage)
	}
}

func parseWritable(b []byte) (*Credentials, error) {
	r := &reader{b: b}
	c := &Credentials{}
	n, err := r.vint("token count")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTokenStorage, err)
	}
	// Every token takes at least five bytes, which bounds the count by the input size.
	if n < 0 || n > r.remaining()/5 {
		return nil, fmt.Errorf("token count %d is impossible for %d bytes: %w", n, r.remaining(), ErrBadTokenStorage)
	}
	for i := 0; i < n; i++ {
		alias, err := r.text("token alias")
		if err != nil {
			return nil, fmt.Errorf("token %d: %w: %w", i, ErrBadTokenStorage, err)
		}
		t, err := readToken(r)
		if err != nil {
			return nil, fmt.Errorf("token %d (%q): %w: %w", i, alias, ErrBadTokenStorage, err)
		}
		c.AddToken(alias, t)
	}
	m, err := r.vint("secret count")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTokenStorage, err)
	}
	if m < 0 || m > r.remaining()/2 {
		return nil, fmt.Errorf("secret count %d is impossible for %d bytes: %w", m, r.remaining(), ErrBadTokenStorage)
	}
	for i := 0; i < m; i++ {
		alias, err := r.text("secret alias")
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w: %w", i, ErrBadTokenStorage, err)
		}
		key, err := r.bytes("secret key")
		if err != nil {
			return nil, fmt.Errorf("secret %d (%q): %w: %w", i, alias, ErrBadTokenStorage, err)
		}
		c.AddSecret(alias, key)
	}
	return c, nil
}

func readToken(r *reader) (Token, error) {
	var t Token
	var err error
	if t.Identifier, err = r.bytes("token identifier"); err != nil {
		return t, err
	}
	if t.Password, err = r.bytes("token password"); err != nil {
		return t, err
	}
	if t.Kind, err = r.text("token kind"); err != nil {
		return t, err
	}
	if t.Service, err = r.text("token service"); err != nil {
		return t, err
	}
	return t, nil
}

// ReadWritableToken decodes one Writable-format token (Token.readFields) from the front of b and
// returns it with the number of bytes consumed.
func ReadWritableToken(b []byte) (Token, int, error) {
	r := &reader{b: b}
	t, err := readToken(r)
	if err != nil {
		return Token{}, 0, fmt.Errorf("decoding Writable token: %w", err)
	}
	return t, r.off, nil
}

func parseProtobuf(b []byte) (*Credentials, error) {
	size, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return nil, fmt.Errorf("bad CredentialsProto length prefix: %w", ErrBadTokenStorage)
	}
	if size > uint64(len(b)-n) {
		return nil, fmt.Errorf("CredentialsProto length %d exceeds the %d bytes left: %w", size, len(b)-n, ErrBadTokenStorage)
	}
	msg := &hadoopproto.CredentialsProto{}
	if err := proto.Unmarshal(b[n:n+int(size)], msg); err != nil {
		return nil, fmt.Errorf("decoding CredentialsProto: %w: %w", ErrBadTokenStorage, err)
	}
	c := &Credentials{}
	for i, kv := range msg.GetTokens() {
		if kv.GetToken() == nil {
			return nil, fmt.Errorf("token entry %d (%q) has no token: %w", i, kv.GetAlias(), ErrBadTokenStorage)
		}
		t, err := TokenFromProto(kv.GetToken())
		if err != nil {
			return nil, err
		}
		c.AddToken(kv.GetAlias(), t)
	}
	for _, kv := range msg.GetSecrets() {
		c.AddSecret(kv.GetAlias(), kv.GetSecret())
	}
	return c, nil
}

// Read parses a token storage stream from r, reading at most MaxTokenStorageSize bytes.
func Read(r io.Reader) (*Credentials, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxTokenStorageSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading token storage: %w", err)
	}
	return Unmarshal(b)
}

// ReadFile parses the token file at path.
func ReadFile(path string) (*Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening token file: %w", err)
	}
	defer f.Close()
	c, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return c, nil
}

// WriteFile writes the credentials to path with mode 0600 (tokens are secrets), replacing the file
// atomically.
func (c *Credentials) WriteFile(path string, format Format) error {
	b, err := c.Marshal(format)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing token file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing token file: %w", err)
	}
	return nil
}

// FromEnvironment reads the token file named by HADOOP_TOKEN_FILE_LOCATION, which the NodeManager
// sets in every container. It returns ErrNoTokenFile when the variable is unset.
func FromEnvironment() (*Credentials, error) {
	path := os.Getenv(TokenFileEnvVariable)
	if path == "" {
		return nil, ErrNoTokenFile
	}
	return ReadFile(path)
}
