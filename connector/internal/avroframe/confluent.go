package avroframe

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrNotConfluent: the value does not start with the Confluent wire format's magic byte 0 and
// a 4-byte schema id.
var ErrNotConfluent = errors.New("not a Confluent wire format value (magic byte 0, 4-byte schema id)")

// ConfluentHeaderLen is the length of the Confluent wire format's header.
const ConfluentHeaderLen = 5

// AppendConfluent encodes native (goavro's native form) in the Confluent wire format after
// buf: byte 0, the registry's schema id as 4 big-endian bytes, then the Avro binary body.
func (so *SingleObject) AppendConfluent(buf []byte, id uint32, native any) ([]byte, error) {
	buf = append(buf, 0)
	buf = binary.BigEndian.AppendUint32(buf, id)
	out, err := so.codec.BinaryFromNative(buf, native)
	if err != nil {
		return buf, fmt.Errorf("encode %s: %w", so.Name, err)
	}
	return out, nil
}

// DecodeBody decodes an Avro binary body of this schema (no header).
func (so *SingleObject) DecodeBody(body []byte) (any, error) {
	native, rest, err := so.codec.NativeFromBinary(body)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", so.Name, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("decode %s: %d trailing bytes", so.Name, len(rest))
	}
	return native, nil
}

// SplitConfluent returns the schema id and the body of a Confluent wire format value.
func SplitConfluent(value []byte) (uint32, []byte, error) {
	if len(value) < ConfluentHeaderLen || value[0] != 0 {
		return 0, nil, ErrNotConfluent
	}
	return binary.BigEndian.Uint32(value[1:5]), value[5:], nil
}
