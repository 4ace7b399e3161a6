package ipc

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	hadoopproto "github.com/flink-go/flink-go/yarn/internal/proto/hadoop"
	"github.com/flink-go/flink-go/yarn/ipc/internal/digestmd5"
	"github.com/flink-go/flink-go/yarn/security"
)

// ErrSASL reports a failed or out-of-sync SASL negotiation.
var ErrSASL = errors.New("SASL negotiation failed")

// securityLayer protects packets after a SASL exchange that negotiated integrity or privacy.
type securityLayer interface {
	Wrap(msg []byte) ([]byte, error)
	Unwrap(tok []byte) ([]byte, error)
	// maxRawSize is the largest plaintext one wrapped token may carry so that the token fits the
	// peer's receive buffer (Sasl.RAW_SEND_SIZE); 0 means no limit.
	maxRawSize() int
}

// saslMechanism is the client side of one SASL mechanism. The negotiation driver (negotiateSASL)
// handles the RpcSaslProto states; a mechanism only evaluates tokens.
type saslMechanism interface {
	// name describes the mechanism for errors, e.g. "TOKEN/DIGEST-MD5".
	name() string
	// selectAuth picks the offered auth this mechanism can use, or returns nil.
	selectAuth(auths []*hadoopproto.RpcSaslProto_SaslAuth) *hadoopproto.RpcSaslProto_SaslAuth
	// start returns the initial response for the chosen auth (nil when the mechanism has none).
	start(auth *hadoopproto.RpcSaslProto_SaslAuth) ([]byte, error)
	// step evaluates a server CHALLENGE and returns the RESPONSE token.
	step(challenge []byte) ([]byte, error)
	// finish evaluates the token that came with SUCCESS and reports whether the client side is
	// complete.
	finish(token []byte) error
	// layer returns the negotiated security layer, nil for QOP auth.
	layer() (securityLayer, error)
}

// saslPeer sends and receives SASL messages (call id -33).
type saslPeer interface {
	sendSASL(msg *hadoopproto.RpcSaslProto) error
	recvSASL() (*hadoopproto.RpcSaslProto, error)
}

// saslResult is the outcome of a negotiation.
type saslResult struct {
	// simple is true when the server answered NEGOTIATE with SUCCESS ("switch to simple").
	simple bool
	// auth is the chosen auth (nil when simple).
	auth *hadoopproto.RpcSaslProto_SaslAuth
	// layer is the security layer, nil for no wrapping.
	layer securityLayer
}

// negotiateSASL runs the Hadoop SASL exchange (SaslRpcClient.saslConnect):
//
//	client                                   server
//	  NEGOTIATE                       ->
//	                                  <-     NEGOTIATE{auths: [TOKEN/DIGEST-MD5 + challenge, KERBEROS/GSSAPI, ...]}
//	                                         (or SUCCESS: the server only does SIMPLE)
//	  INITIATE{auths:[chosen], token} ->
//	                                  <-     CHALLENGE{token}      } zero or more rounds
//	  RESPONSE{token}                 ->                           }
//	                                  <-     SUCCESS{token?}
func negotiateSASL(p saslPeer, mech saslMechanism) (*saslResult, error) {
	if err := p.sendSASL(&hadoopproto.RpcSaslProto{State: hadoopproto.RpcSaslProto_NEGOTIATE.Enum()}); err != nil {
		return nil, err
	}
	msg, err := p.recvSASL()
	if err != nil {
		return nil, err
	}
	switch msg.GetState() {
	case hadoopproto.RpcSaslProto_SUCCESS:
		return &saslResult{simple: true}, nil
	case hadoopproto.RpcSaslProto_NEGOTIATE:
	default:
		return nil, fmt.Errorf("%w: server answered NEGOTIATE with %s", ErrSASL, msg.GetState())
	}
	offered := msg.GetAuths()
	auth := mech.selectAuth(offered)
	if auth == nil {
		return nil, fmt.Errorf("%w: client is configured for %s but the server offers %s", ErrSASL, mech.name(), describeAuths(offered))
	}
	token, err := mech.start(auth)
	if err != nil {
		return nil, err
	}
	// Echo the server's auth exactly, with only the challenge cleared: the server checks that its
	// list contains() ours by protobuf equality, including explicitly-set empty strings.
	chosen := proto.Clone(auth).(*hadoopproto.RpcSaslProto_SaslAuth)
	chosen.Challenge = nil
	initiate := &hadoopproto.RpcSaslProto{
		State: hadoopproto.RpcSaslProto_INITIATE.Enum(),
		Auths: []*hadoopproto.RpcSaslProto_SaslAuth{chosen},
	}
	if token != nil {
		initiate.Token = token
	}
	if err := p.sendSASL(initiate); err != nil {
		return nil, err
	}
	for round := 0; ; round++ {
		if round > 10 {
			return nil, fmt.Errorf("%w: %s did not finish after %d rounds", ErrSASL, mech.name(), round)
		}
		msg, err := p.recvSASL()
		if err != nil {
			return nil, err
		}
		switch msg.GetState() {
		case hadoopproto.RpcSaslProto_CHALLENGE:
			resp, err := mech.step(msg.GetToken())
			if err != nil {
				return nil, err
			}
			out := &hadoopproto.RpcSaslProto{State: hadoopproto.RpcSaslProto_RESPONSE.Enum()}
			if resp != nil {
				out.Token = resp
			}
			if err := p.sendSASL(out); err != nil {
				return nil, err
			}
		case hadoopproto.RpcSaslProto_SUCCESS:
			if err := mech.finish(msg.GetToken()); err != nil {
				return nil, err
			}
			layer, err := mech.layer()
			if err != nil {
				return nil, err
			}
			return &saslResult{auth: auth, layer: layer}, nil
		default:
			return nil, fmt.Errorf("%w: unexpected SASL state %s from the server", ErrSASL, msg.GetState())
		}
	}
}

func describeAuths(auths []*hadoopproto.RpcSaslProto_SaslAuth) string {
	if len(auths) == 0 {
		return "nothing"
	}
	var s []string
	for _, a := range auths {
		s = append(s, a.GetMethod()+"/"+a.GetMechanism())
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// digestMechanism is TOKEN authentication with DIGEST-MD5.
type digestMechanism struct {
	token  security.Token
	qops   []string
	client *digestmd5.Client
}

func (m *digestMechanism) name() string { return "TOKEN/DIGEST-MD5" }

func (m *digestMechanism) selectAuth(auths []*hadoopproto.RpcSaslProto_SaslAuth) *hadoopproto.RpcSaslProto_SaslAuth {
	for _, a := range auths {
		if a.GetMethod() == "TOKEN" && a.GetMechanism() == "DIGEST-MD5" {
			return a
		}
	}
	return nil
}

func (m *digestMechanism) start(auth *hadoopproto.RpcSaslProto_SaslAuth) ([]byte, error) {
	m.client = &digestmd5.Client{
		Username: base64.StdEncoding.EncodeToString(m.token.Identifier),
		Password: base64.StdEncoding.EncodeToString(m.token.Password),
		Protocol: auth.GetProtocol(),
		ServerID: auth.GetServerId(),
		QOPs:     m.qops,
	}
	if len(auth.GetChallenge()) == 0 {
		// No piggy-backed challenge: send INITIATE without a token; the server replies CHALLENGE.
		return nil, nil
	}
	return m.respond(auth.GetChallenge())
}

func (m *digestMechanism) respond(challenge []byte) ([]byte, error) {
	resp, err := m.client.Respond(challenge)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSASL, err)
	}
	return resp, nil
}

func (m *digestMechanism) step(challenge []byte) ([]byte, error) {
	if m.client.QOP() != "" {
		// Already responded: a further CHALLENGE may carry rspauth (some servers send it before
		// SUCCESS).
		if err := m.verify(challenge); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return m.respond(challenge)
}

func (m *digestMechanism) verify(token []byte) error {
	if err := m.client.Verify(token); err != nil {
		if errors.Is(err, digestmd5.ErrAuthFailed) {
			return fmt.Errorf("%w: %w", ErrPermission, err)
		}
		return fmt.Errorf("%w: %w", ErrSASL, err)
	}
	return nil
}

func (m *digestMechanism) finish(token []byte) error {
	if m.client.Complete() {
		return nil
	}
	if m.client.QOP() == "" {
		return fmt.Errorf("%w: client is out of sync with server (SUCCESS before the digest response)", ErrSASL)
	}
	return m.verify(token)
}

func (m *digestMechanism) layer() (securityLayer, error) {
	l, err := m.client.SecurityLayer()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSASL, err)
	}
	if l == nil {
		return nil, nil
	}
	return digestLayer{l}, nil
}

type digestLayer struct{ l *digestmd5.SecurityLayer }

// maxRawSize leaves room for the 16-byte DIGEST-MD5 trailer (MAC, type, sequence number).
func (d digestLayer) maxRawSize() int { return d.l.MaxBuf - 16 }

func (d digestLayer) Wrap(msg []byte) ([]byte, error) { return d.l.Wrap(msg), nil }
func (d digestLayer) Unwrap(tok []byte) ([]byte, error) {
	b, err := d.l.Unwrap(tok)
	if err != nil {
		return nil, fmt.Errorf("unwrapping SASL %s packet: %w", d.l.QOP(), err)
	}
	return b, nil
}
