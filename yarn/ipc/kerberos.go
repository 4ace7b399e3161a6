package ipc

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
)

// KerberosConfig says how to obtain Kerberos credentials for AuthKerberos.
type KerberosConfig struct {
	// Client is an already logged-in gokrb5 client. When nil, one is created (once) from the
	// fields below: from KeytabPath when set, otherwise from the credential cache.
	Client *client.Client
	// Principal is the client principal, "user" or "user@REALM" (needed with KeytabPath).
	Principal string
	// KeytabPath is a keytab file holding the principal's keys.
	KeytabPath string
	// CCachePath is the credential cache (default $KRB5CCNAME, then /tmp/krb5cc_<uid>).
	CCachePath string
	// Krb5ConfPath is krb5.conf (default $KRB5_CONFIG, then /etc/krb5.conf).
	Krb5ConfPath string

	mu sync.Mutex
}

// login returns the logged-in client, creating it on first use.
func (k *KerberosConfig) login() (*client.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.Client != nil {
		return k.Client, nil
	}
	confPath := cmp.Or(k.Krb5ConfPath, os.Getenv("KRB5_CONFIG"), "/etc/krb5.conf")
	conf, err := config.Load(confPath)
	if err != nil {
		return nil, fmt.Errorf("loading krb5.conf %s (set Krb5ConfPath or KRB5_CONFIG): %w", confPath, err)
	}
	if k.KeytabPath != "" {
		kt, err := keytab.Load(k.KeytabPath)
		if err != nil {
			return nil, fmt.Errorf("loading keytab %s: %w", k.KeytabPath, err)
		}
		user, realm := splitPrincipal(k.Principal)
		if user == "" {
			return nil, errors.New("kerberos: a keytab login needs KerberosConfig.Principal")
		}
		if realm == "" {
			realm = conf.LibDefaults.DefaultRealm
		}
		cl := client.NewWithKeytab(user, realm, kt, conf, client.DisablePAFXFAST(true))
		if err := cl.Login(); err != nil {
			return nil, fmt.Errorf("kerberos login of %s@%s with keytab %s (is the KDC reachable and the keytab current?): %w", user, realm, k.KeytabPath, err)
		}
		k.Client = cl
		return cl, nil
	}
	cl, err := CCacheClient(k.CCachePath, conf)
	if err != nil {
		return nil, err
	}
	k.Client = cl
	return cl, nil
}

// CCacheClient returns a Kerberos client holding the tickets of the credential cache at path
// (kinit's): when path is empty, $KRB5CCNAME (a "FILE:" prefix is accepted), then
// /tmp/krb5cc_<uid>.
func CCacheClient(path string, conf *config.Config) (*client.Client, error) {
	if path == "" {
		path = strings.TrimPrefix(os.Getenv("KRB5CCNAME"), "FILE:")
	}
	if path == "" {
		path = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	}
	cc, err := credentials.LoadCCache(path)
	if err != nil {
		return nil, fmt.Errorf("no keytab given and the credential cache %s is unusable (run kinit, or configure a keytab): %w", path, err)
	}
	cl, err := client.NewFromCCache(cc, conf, client.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("using credential cache %s (expired? run kinit): %w", path, err)
	}
	return cl, nil
}

// principalName is the client's "user@REALM" for the connection context.
func (k *KerberosConfig) principalName() string {
	k.mu.Lock()
	cl := k.Client
	k.mu.Unlock()
	if cl != nil && cl.Credentials != nil {
		return cl.Credentials.CName().PrincipalNameString() + "@" + cl.Credentials.Domain()
	}
	return k.Principal
}

// splitPrincipal splits "primary/instance@REALM" into "primary/instance" and "REALM".
func splitPrincipal(p string) (name, realm string) {
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}

// ServicePrincipal resolves a configured server principal for the host being dialled:
// "rm/_HOST@REALM" with host "RM1.example.com" gives service "rm", host "rm1.example.com" and the
// SPN "rm/rm1.example.com" (realm stripped, as gokrb5 expects).
func ServicePrincipal(configured, host string) (service, instance, spn string, err error) {
	name, _ := splitPrincipal(configured)
	parts := strings.Split(name, "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("server principal %q is not of the form service/host@REALM", configured)
	}
	instance = parts[1]
	if instance == "_HOST" {
		instance = strings.ToLower(host)
	}
	return parts[0], instance, parts[0] + "/" + instance, nil
}

// Security-layer bits of the GSSAPI SASL handshake (RFC 4752 §3.3).
const (
	gssLayerNone      = 1
	gssLayerIntegrity = 2
	gssLayerPrivacy   = 4
)

// kerberosMechanism is KERBEROS authentication with GSSAPI (RFC 4752), as the Java GSSAPI SASL
// client does it: an AP-REQ as the initial token, then the security-layer negotiation, in which
// the server sends a wrap token with the layers it supports and its maximum buffer, and the client
// answers with a wrap token choosing one.
type kerberosMechanism struct {
	cfg    *Config
	host   string
	cl     *client.Client
	key    types.EncryptionKey
	chosen byte
	maxBuf int // the server's maximum receive buffer from its security-layer offer
	done   bool
}

func (m *kerberosMechanism) name() string { return "KERBEROS/GSSAPI" }

func (m *kerberosMechanism) selectAuth(auths []*hadoopproto.RpcSaslProto_SaslAuth) *hadoopproto.RpcSaslProto_SaslAuth {
	for _, a := range auths {
		if a.GetMethod() == "KERBEROS" && a.GetMechanism() == "GSSAPI" {
			return a
		}
	}
	return nil
}

func (m *kerberosMechanism) start(auth *hadoopproto.RpcSaslProto_SaslAuth) ([]byte, error) {
	host := strings.ToLower(m.host)
	if adv := strings.ToLower(auth.GetServerId()); adv != "" && adv != host && strings.Contains(m.cfg.ServerPrincipal, "_HOST") {
		// The Java client substitutes the dialled address's canonical host name. Accept the name
		// the server advertises only if it is that canonical name (the dialled address may be an
		// IP, a short name or an alias), so a server cannot pick a principal of its choosing.
		if !m.canonicalMatches(adv) {
			return nil, fmt.Errorf("%w: server %s advertises host %q, which is not the canonical name of the dialled address (dial the server by its Kerberos host name)",
				ErrSASL, m.host, adv)
		}
		host = adv
	}
	service, instance, spn, err := ServicePrincipal(m.cfg.ServerPrincipal, host)
	if err != nil {
		return nil, err
	}
	if auth.GetProtocol() != "" && (auth.GetProtocol() != service || !strings.EqualFold(auth.GetServerId(), instance)) {
		return nil, fmt.Errorf("%w: server advertises principal %s/%s but the configured server principal resolves to %s (check the *.principal setting)",
			ErrSASL, auth.GetProtocol(), auth.GetServerId(), spn)
	}
	cl, err := m.cfg.Kerberos.login()
	if err != nil {
		return nil, err
	}
	m.cl = cl
	tkt, key, err := cl.GetServiceTicket(spn)
	if err != nil {
		return nil, fmt.Errorf("getting a Kerberos service ticket for %s (is the principal right and known to the KDC?): %w", spn, err)
	}
	m.key = key
	tok, err := spnego.NewKRB5TokenAPREQ(cl, tkt, key, []int{gssapi.ContextFlagInteg, gssapi.ContextFlagConf}, []int{})
	if err != nil {
		return nil, fmt.Errorf("building Kerberos AP-REQ: %w", err)
	}
	b, err := tok.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding Kerberos AP-REQ: %w", err)
	}
	return b, nil
}

// lookupAddr and lookupHost resolve names; variables so tests can stub DNS.
var (
	lookupAddr = net.LookupAddr
	lookupHost = net.LookupHost
)

// canonicalMatches reports whether name is a canonical (reverse-resolved) name of the dialled host.
func (m *kerberosMechanism) canonicalMatches(name string) bool {
	addrs := []string{m.host}
	if net.ParseIP(m.host) == nil {
		resolved, err := lookupHost(m.host)
		if err != nil {
			return false
		}
		addrs = resolved
	}
	for _, a := range addrs {
		names, err := lookupAddr(a)
		if err != nil {
			continue
		}
		for _, n := range names {
			if strings.EqualFold(strings.TrimSuffix(n, "."), name) {
				return true
			}
		}
	}
	return false
}

// isWrapToken reports whether b starts like an RFC 4121 wrap token (TOK_ID 05 04, filler FF).
func isWrapToken(b []byte) bool {
	return len(b) >= 16 && b[0] == 0x05 && b[1] == 0x04 && b[3] == 0xff
}

func (m *kerberosMechanism) step(challenge []byte) ([]byte, error) {
	if m.done {
		return nil, fmt.Errorf("%w: unexpected challenge after the security layer was agreed", ErrSASL)
	}
	if !isWrapToken(challenge) {
		// An AP-REP (mutual authentication) or empty token: acknowledge with an empty response;
		// the server then sends the security-layer offer.
		return nil, nil
	}
	offer, err := unwrapGSS(challenge, m.key)
	if err != nil {
		return nil, err
	}
	reply, chosen, err := ChooseGSSLayer(offer, m.cfg.qops())
	if err != nil {
		return nil, err
	}
	m.chosen = chosen
	m.maxBuf = int(offer[1])<<16 | int(offer[2])<<8 | int(offer[3])
	wt, err := gssapi.NewInitiatorWrapToken(reply, m.key)
	if err != nil {
		return nil, fmt.Errorf("wrapping GSSAPI security-layer reply: %w", err)
	}
	b, err := wt.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding GSSAPI wrap token: %w", err)
	}
	m.done = true
	return b, nil
}

// ChooseGSSLayer evaluates the server's 4-byte security-layer offer (layer bit mask, 3-byte
// maximum buffer) and builds the client's 4-byte reply for the accepted QOPs in order of
// preference ("auth-conf" privacy, "auth-int" integrity, "auth" none). It returns the reply and
// the chosen bit.
func ChooseGSSLayer(offer []byte, qops []string) ([]byte, byte, error) {
	if len(offer) != 4 {
		return nil, 0, fmt.Errorf("%w: GSSAPI security-layer offer has %d bytes, want 4", ErrSASL, len(offer))
	}
	for _, q := range qops {
		var bit byte
		switch q {
		case "auth":
			bit = gssLayerNone
		case "auth-int":
			bit = gssLayerIntegrity
		case "auth-conf":
			bit = gssLayerPrivacy
		}
		if bit == 0 || offer[0]&bit == 0 {
			continue
		}
		if bit == gssLayerNone {
			return []byte{gssLayerNone, 0, 0, 0}, gssLayerNone, nil
		}
		// Echo the server's maximum buffer size as our own receive limit.
		return []byte{bit, offer[1], offer[2], offer[3]}, bit, nil
	}
	return nil, 0, fmt.Errorf("%w: no common Kerberos protection: server offers layers %#x (1 none, 2 integrity, 4 privacy), client accepts %v (check hadoop.rpc.protection)", ErrSASL, offer[0], qops)
}

func unwrapGSS(tok []byte, key types.EncryptionKey) ([]byte, error) {
	var wt gssapi.WrapToken
	if err := wt.Unmarshal(tok, true); err != nil {
		return nil, fmt.Errorf("%w: decoding GSSAPI wrap token: %w", ErrSASL, err)
	}
	ok, err := wt.Verify(key, keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil || !ok {
		return nil, fmt.Errorf("%w: GSSAPI wrap token from the server failed verification: %v", ErrPermission, err)
	}
	return wt.Payload, nil
}

func (m *kerberosMechanism) finish(token []byte) error {
	if !m.done {
		return fmt.Errorf("%w: client is out of sync with server (SUCCESS before the GSSAPI security layer was agreed)", ErrSASL)
	}
	return nil
}

func (m *kerberosMechanism) layer() (securityLayer, error) {
	switch m.chosen {
	case gssLayerIntegrity:
		return &krbLayer{key: m.key, maxBuf: m.maxBuf}, nil
	case gssLayerPrivacy:
		return &krbLayer{key: m.key, maxBuf: m.maxBuf, seal: true}, nil
	}
	return nil, nil
}

// krbLayer wraps packets in RFC 4121 wrap tokens: checksummed (integrity) or sealed (privacy).
// RFC 4121 tokens need an AES (or newer) session key; RC4 and DES3 use the older RFC 1964 format,
// which is not supported.
type krbLayer struct {
	key     types.EncryptionKey
	sendSeq uint64
	maxBuf  int
	seal    bool
}

// maxRawSize leaves room for the 16-byte header, the header copy and confounder of a sealed token
// and the 12-byte checksum.
func (l *krbLayer) maxRawSize() int {
	overhead := 28
	if l.seal {
		overhead = 64
	}
	if l.maxBuf <= overhead {
		return 0
	}
	return l.maxBuf - overhead
}

func (l *krbLayer) Wrap(msg []byte) ([]byte, error) {
	l.sendSeq++
	if l.seal {
		return sealGSS(msg, l.key, l.sendSeq)
	}
	wt, err := gssapi.NewInitiatorWrapToken(msg, l.key)
	if err != nil {
		return nil, fmt.Errorf("wrapping with Kerberos integrity: %w", err)
	}
	wt.SndSeqNum = l.sendSeq
	wt.CheckSum = nil // recompute over the header with the sequence number
	if err := wt.SetCheckSum(l.key, keyusage.GSSAPI_INITIATOR_SEAL); err != nil {
		return nil, fmt.Errorf("wrapping with Kerberos integrity: %w", err)
	}
	return wt.Marshal()
}

func (l *krbLayer) Unwrap(tok []byte) ([]byte, error) {
	if isWrapToken(tok) && tok[2]&gssFlagSealed != 0 {
		return unsealGSS(tok, l.key)
	}
	return unwrapGSS(tok, l.key)
}

// RFC 4121 §4.2.2 wrap-token flags.
const (
	gssFlagSentByAcceptor = 0x01
	gssFlagSealed         = 0x02
	gssFlagAcceptorSubkey = 0x04
)

// sealGSS builds an initiator's sealed wrap token (RFC 4121 §4.2.4):
// header | encrypt(plaintext | header), with EC = 0 filler bytes and RRC = 0.
func sealGSS(msg []byte, key types.EncryptionKey, seq uint64) ([]byte, error) {
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, fmt.Errorf("kerberos privacy: %w", err)
	}
	hdr := make([]byte, 16)
	copy(hdr, []byte{0x05, 0x04, gssFlagSealed, 0xff, 0, 0, 0, 0})
	binary.BigEndian.PutUint64(hdr[8:], seq)
	plain := append(append(make([]byte, 0, len(msg)+16), msg...), hdr...)
	_, ct, err := et.EncryptMessage(key.KeyValue, plain, keyusage.GSSAPI_INITIATOR_SEAL)
	if err != nil {
		return nil, fmt.Errorf("kerberos privacy: encrypting: %w", err)
	}
	return append(hdr, ct...), nil
}

// unsealGSS decrypts an acceptor's sealed wrap token and checks the encrypted header copy.
func unsealGSS(tok []byte, key types.EncryptionKey) ([]byte, error) {
	if tok[2]&gssFlagSentByAcceptor == 0 {
		return nil, fmt.Errorf("%w: sealed wrap token not sent by the acceptor", ErrSASL)
	}
	if tok[2]&gssFlagAcceptorSubkey != 0 {
		return nil, fmt.Errorf("%w: sealed wrap token uses an acceptor subkey, which this client does not negotiate", ErrSASL)
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, fmt.Errorf("kerberos privacy: %w", err)
	}
	ec := int(binary.BigEndian.Uint16(tok[4:6]))
	rrc := int(binary.BigEndian.Uint16(tok[6:8]))
	body := append([]byte{}, tok[16:]...)
	if len(body) < et.GetConfounderByteSize()+et.GetHMACBitLength()/8+16+ec {
		return nil, fmt.Errorf("%w: sealed wrap token of %d bytes is too short", ErrSASL, len(tok))
	}
	if rrc != 0 { // undo the right rotation
		r := rrc % len(body)
		body = append(body[r:], body[:r]...)
	}
	plain, err := et.DecryptMessage(key.KeyValue, body, keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		return nil, fmt.Errorf("%w: decrypting a sealed wrap token from the server: %v", ErrPermission, err)
	}
	if len(plain) < 16+ec {
		return nil, fmt.Errorf("%w: sealed wrap token plaintext too short", ErrSASL)
	}
	copyHdr := plain[len(plain)-16:]
	if !bytes.Equal(copyHdr[0:6], tok[0:6]) || !bytes.Equal(copyHdr[8:16], tok[8:16]) {
		return nil, fmt.Errorf("%w: sealed wrap token header does not match its encrypted copy", ErrPermission)
	}
	return plain[:len(plain)-16-ec], nil
}

// hostOf returns the host part of host:port.
func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
