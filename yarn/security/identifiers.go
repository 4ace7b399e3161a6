package security

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrBadIdentifier reports a token identifier that does not decode as the expected kind.
var ErrBadIdentifier = errors.New("invalid token identifier")

// ApplicationAttemptID identifies one attempt of a YARN application.
type ApplicationAttemptID struct {
	ClusterTimestamp int64
	AppID            int32
	AttemptID        int32
}

// ApplicationID formats the application id as YARN does: application_<clusterTs>_<id, ≥4 digits>.
func (a ApplicationAttemptID) ApplicationID() string {
	return fmt.Sprintf("application_%d_%04d", a.ClusterTimestamp, a.AppID)
}

// String formats the attempt id as YARN does: appattempt_<clusterTs>_<app ≥4>_<attempt ≥6>. This is
// the user name the RM and NM assign to AMRMToken and NMToken connections.
func (a ApplicationAttemptID) String() string {
	return fmt.Sprintf("appattempt_%d_%04d_%06d", a.ClusterTimestamp, a.AppID, a.AttemptID)
}

// AMRMTokenIdentifier is the decoded identifier of a YARN_AM_RM_TOKEN (AMRMTokenIdentifierProto).
type AMRMTokenIdentifier struct {
	Attempt ApplicationAttemptID
	KeyID   int32
}

// NMTokenIdentifier is the decoded identifier of an NMToken (NMTokenIdentifierProto).
type NMTokenIdentifier struct {
	Attempt      ApplicationAttemptID
	NodeHost     string
	NodePort     int32
	AppSubmitter string
	KeyID        int32
}

// NodeAddress is host:port of the node the NMToken is for (the NMToken cache key).
func (n NMTokenIdentifier) NodeAddress() string { return fmt.Sprintf("%s:%d", n.NodeHost, n.NodePort) }

// DecodeAMRMTokenIdentifier decodes the identifier bytes of an AMRMToken.
func DecodeAMRMTokenIdentifier(b []byte) (AMRMTokenIdentifier, error) {
	id := AMRMTokenIdentifier{KeyID: -1}
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			a, err := decodeAttemptID(v)
			id.Attempt = a
			return err
		case num == 2 && typ == protowire.VarintType:
			id.KeyID = int32(x)
		}
		return nil
	})
	if err != nil {
		return AMRMTokenIdentifier{}, fmt.Errorf("decoding AMRMTokenIdentifierProto: %w", err)
	}
	return id, nil
}

// EncodeAMRMTokenIdentifier encodes id as AMRMTokenIdentifierProto bytes (what the RM issues).
func EncodeAMRMTokenIdentifier(id AMRMTokenIdentifier) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, encodeAttemptID(id.Attempt))
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(int64(id.KeyID)))
}

// DecodeNMTokenIdentifier decodes the identifier bytes of an NMToken.
func DecodeNMTokenIdentifier(b []byte) (NMTokenIdentifier, error) {
	id := NMTokenIdentifier{KeyID: -1}
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			a, err := decodeAttemptID(v)
			id.Attempt = a
			return err
		case num == 2 && typ == protowire.BytesType:
			return walkFields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == 1 && typ == protowire.BytesType:
					id.NodeHost = string(v)
				case num == 2 && typ == protowire.VarintType:
					id.NodePort = int32(x)
				}
				return nil
			})
		case num == 3 && typ == protowire.BytesType:
			id.AppSubmitter = string(v)
		case num == 4 && typ == protowire.VarintType:
			id.KeyID = int32(x)
		}
		return nil
	})
	if err != nil {
		return NMTokenIdentifier{}, fmt.Errorf("decoding NMTokenIdentifierProto: %w", err)
	}
	return id, nil
}

// EncodeNMTokenIdentifier encodes id as NMTokenIdentifierProto bytes.
func EncodeNMTokenIdentifier(id NMTokenIdentifier) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, encodeAttemptID(id.Attempt))
	var node []byte
	node = protowire.AppendTag(node, 1, protowire.BytesType)
	node = protowire.AppendString(node, id.NodeHost)
	node = protowire.AppendTag(node, 2, protowire.VarintType)
	node = protowire.AppendVarint(node, uint64(int64(id.NodePort)))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, node)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, id.AppSubmitter)
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(int64(id.KeyID)))
}

// ApplicationAttemptIdProto{application_id=1: ApplicationIdProto{id=1, cluster_timestamp=2}, attemptId=2}
func decodeAttemptID(b []byte) (ApplicationAttemptID, error) {
	var a ApplicationAttemptID
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			return walkFields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == 1 && typ == protowire.VarintType:
					a.AppID = int32(x)
				case num == 2 && typ == protowire.VarintType:
					a.ClusterTimestamp = int64(x)
				}
				return nil
			})
		case num == 2 && typ == protowire.VarintType:
			a.AttemptID = int32(x)
		}
		return nil
	})
	return a, err
}

func encodeAttemptID(a ApplicationAttemptID) []byte {
	var app []byte
	app = protowire.AppendTag(app, 1, protowire.VarintType)
	app = protowire.AppendVarint(app, uint64(int64(a.AppID)))
	app = protowire.AppendTag(app, 2, protowire.VarintType)
	app = protowire.AppendVarint(app, uint64(a.ClusterTimestamp))
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, app)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(int64(a.AttemptID)))
}

// walkFields calls fn for every field of a protobuf message; v is set for length-delimited fields and
// x for varints. Unknown fields and wire types are skipped; malformed input gives ErrBadIdentifier.
func walkFields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("bad field tag: %w: %w", ErrBadIdentifier, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("bad value of field %d: %w: %w", num, ErrBadIdentifier, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
