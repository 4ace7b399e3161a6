package security

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// DelegationTokenIdentifier is the decoded identifier of a Hadoop delegation token
// (AbstractDelegationTokenIdentifier: HDFS_DELEGATION_TOKEN, RM_DELEGATION_TOKEN, ...).
type DelegationTokenIdentifier struct {
	Owner, Renewer, RealUser string
	// IssueDate and MaxDate bound the token's life; it must be renewed before its (shorter)
	// renewal interval runs out and can never be used after MaxDate.
	IssueDate, MaxDate time.Time
	SequenceNumber     int32
	MasterKeyID        int32
}

// DecodeDelegationTokenIdentifier decodes either encoding Hadoop uses: the Writable one
// (version byte 0, Text owner, renewer, realUser, VLong issueDate, maxDate, VInt sequenceNumber,
// masterKeyId; HDFS) or YARNDelegationTokenIdentifierProto (RM delegation tokens).
func DecodeDelegationTokenIdentifier(b []byte) (DelegationTokenIdentifier, error) {
	if len(b) == 0 {
		return DelegationTokenIdentifier{}, fmt.Errorf("empty delegation token identifier: %w", ErrBadIdentifier)
	}
	if b[0] == 0 { // Writable version 0; a protobuf message never starts with a 0 tag byte
		return decodeWritableDelegation(b[1:])
	}
	return decodeProtoDelegation(b)
}

func decodeWritableDelegation(b []byte) (DelegationTokenIdentifier, error) {
	r := &reader{b: b}
	var id DelegationTokenIdentifier
	var err error
	fail := func(err error) (DelegationTokenIdentifier, error) {
		return DelegationTokenIdentifier{}, fmt.Errorf("decoding Writable delegation token identifier: %w: %w", ErrBadIdentifier, err)
	}
	if id.Owner, err = r.text("owner"); err != nil {
		return fail(err)
	}
	if id.Renewer, err = r.text("renewer"); err != nil {
		return fail(err)
	}
	if id.RealUser, err = r.text("realUser"); err != nil {
		return fail(err)
	}
	for _, dst := range []*time.Time{&id.IssueDate, &id.MaxDate} {
		v, n, err := ReadVLong(r.b[r.off:])
		if err != nil {
			return fail(err)
		}
		r.off += n
		*dst = time.UnixMilli(v)
	}
	seq, err := r.vint("sequenceNumber")
	if err != nil {
		return fail(err)
	}
	key, err := r.vint("masterKeyId")
	if err != nil {
		return fail(err)
	}
	id.SequenceNumber, id.MasterKeyID = int32(seq), int32(key)
	return id, nil
}

// YARNDelegationTokenIdentifierProto{owner=1, renewer=2, realUser=3, issueDate=4, maxDate=5,
// sequenceNumber=6, masterKeyId=7}
func decodeProtoDelegation(b []byte) (DelegationTokenIdentifier, error) {
	var id DelegationTokenIdentifier
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			id.Owner = string(v)
		case num == 2 && typ == protowire.BytesType:
			id.Renewer = string(v)
		case num == 3 && typ == protowire.BytesType:
			id.RealUser = string(v)
		case num == 4 && typ == protowire.VarintType:
			id.IssueDate = time.UnixMilli(int64(x))
		case num == 5 && typ == protowire.VarintType:
			id.MaxDate = time.UnixMilli(int64(x))
		case num == 6 && typ == protowire.VarintType:
			id.SequenceNumber = int32(x)
		case num == 7 && typ == protowire.VarintType:
			id.MasterKeyID = int32(x)
		}
		return nil
	})
	if err != nil {
		return DelegationTokenIdentifier{}, fmt.Errorf("decoding YARNDelegationTokenIdentifierProto: %w", err)
	}
	return id, nil
}

// EncodeWritableDelegationTokenIdentifier encodes id in the Writable format (for tests and fake
// servers).
func EncodeWritableDelegationTokenIdentifier(id DelegationTokenIdentifier) []byte {
	b := []byte{0}
	b = appendText(b, id.Owner)
	b = appendText(b, id.Renewer)
	b = appendText(b, id.RealUser)
	b = AppendVLong(b, id.IssueDate.UnixMilli())
	b = AppendVLong(b, id.MaxDate.UnixMilli())
	b = AppendVLong(b, int64(id.SequenceNumber))
	return AppendVLong(b, int64(id.MasterKeyID))
}
