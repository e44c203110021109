package avroframe

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/linkedin/goavro/v2"
)

// Single-object encoding marker (Avro specification, "Single-object encoding").
var magic = [2]byte{0xC3, 0x01}

// ErrNotSingleObject: the value does not start with C3 01 and a fingerprint.
var ErrNotSingleObject = errors.New("not an Avro single-object encoded value")

// SingleObject encodes and decodes values of one schema in Avro single-object encoding:
// C3 01, the schema's CRC-64-AVRO fingerprint (8 bytes, little-endian, of the spec's Parsing
// Canonical Form), then the Avro binary body.
type SingleObject struct {
	Name        string // full name of the schema
	Fingerprint uint64
	FPHex       string // hex of the 8 fingerprint bytes as on the wire
	codec       *goavro.Codec
	header      [10]byte
}

// NewSingleObject compiles a schema.
func NewSingleObject(schema string) (*SingleObject, error) {
	codec, err := goavro.NewCodec(schema)
	if err != nil {
		return nil, fmt.Errorf("avro schema: %w", err)
	}
	pcf, err := CanonicalForm(schema)
	if err != nil {
		return nil, err
	}
	so := &SingleObject{Name: codec.Schema(), codec: codec, Fingerprint: Fingerprint(pcf)}
	// The canonical form of a named schema starts with its full name.
	var named struct {
		Name string `json:"name"`
	}
	if json.Unmarshal([]byte(pcf), &named) == nil && named.Name != "" {
		so.Name = named.Name
	}
	fp := FingerprintBytes(so.Fingerprint)
	copy(so.header[:2], magic[:])
	copy(so.header[2:], fp[:])
	so.FPHex = hex.EncodeToString(fp[:])
	return so, nil
}

// Append encodes native (goavro's native form) after buf.
func (so *SingleObject) Append(buf []byte, native any) ([]byte, error) {
	buf = append(buf, so.header[:]...)
	out, err := so.codec.BinaryFromNative(buf, native)
	if err != nil {
		return buf, fmt.Errorf("encode %s: %w", so.Name, err)
	}
	return out, nil
}

// Decode decodes a value written by Append (for this schema).
func (so *SingleObject) Decode(value []byte) (any, error) {
	fp, body, err := SplitSingleObject(value)
	if err != nil {
		return nil, err
	}
	if fp != so.Fingerprint {
		return nil, fmt.Errorf("decode %s: fingerprint %016x is not this schema's (%016x)", so.Name, fp, so.Fingerprint)
	}
	return so.DecodeBody(body)
}

// SplitSingleObject returns the fingerprint and the body of a single-object value.
func SplitSingleObject(value []byte) (uint64, []byte, error) {
	if len(value) < 10 || value[0] != magic[0] || value[1] != magic[1] {
		return 0, nil, ErrNotSingleObject
	}
	var fp uint64
	for i := 0; i < 8; i++ {
		fp |= uint64(value[2+i]) << (8 * i)
	}
	return fp, value[10:], nil
}
