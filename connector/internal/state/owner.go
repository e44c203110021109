package state

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/events"
)

// HeaderOwner is the header that names the writer of a state record: its Owner.String().
const HeaderOwner = "partoo_state_owner"

// Owner names whose state a state record is: the Partoo API key it was read with (by its
// fingerprint, never the key) and the organisation id when one is set. Two deployments copied
// from one another that share a state topic differ in at least one of them, so a connector
// can tell another organisation's state from its own at restore.
type Owner struct {
	// Key is the fingerprint of the API key: the first 8 bytes of its SHA-256, in hex.
	Key string
	// OrganizationID is the Partoo organisation id (PARTOO_ORG_ID); 0: none.
	OrganizationID int64
}

// NewOwner returns the owner of the state a connector with this API key and organisation id
// writes. The fingerprint reveals nothing usable about the key: a SHA-256 cannot be inverted,
// and an API key is too long and too random to be found by trying candidates; 64 bits are
// still plenty to tell two keys apart.
func NewOwner(apiKey string, organizationID int64) Owner {
	sum := sha256.Sum256([]byte(apiKey))
	return Owner{Key: hex.EncodeToString(sum[:8]), OrganizationID: organizationID}
}

// IsZero reports whether o names no one (the check is off).
func (o Owner) IsZero() bool { return o.Key == "" }

// String is the header's value: "key:<fingerprint>", then " org:<id>" when one is set.
func (o Owner) String() string {
	if o.OrganizationID != 0 {
		return fmt.Sprintf("key:%s org:%d", o.Key, o.OrganizationID)
	}
	return "key:" + o.Key
}

// Header is the record header naming o; none for the zero owner.
func (o Owner) Header() []events.Header {
	if o.IsZero() {
		return nil
	}
	return []events.Header{{Key: HeaderOwner, Value: []byte(o.String())}}
}

// ParseOwner parses a header value written by Owner.String.
func ParseOwner(s string) (Owner, error) {
	var o Owner
	for _, f := range strings.Fields(s) {
		name, v, _ := strings.Cut(f, ":")
		switch name {
		case "key":
			o.Key = v
		case "org":
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return Owner{}, fmt.Errorf("state owner %q: bad org", s)
			}
			o.OrganizationID = id
		}
	}
	if o.Key == "" {
		return Owner{}, fmt.Errorf("state owner %q: no key", s)
	}
	return o, nil
}

// RecordOwner returns the owner a state record names, and false when it names none (written
// by a release before the header). A header that does not parse names an unknown owner
// (Key "?"), which is never this connector's.
func RecordOwner(r *kgo.Record) (Owner, bool) {
	for _, h := range r.Headers {
		if h.Key == HeaderOwner {
			o, err := ParseOwner(string(h.Value))
			if err != nil {
				return Owner{Key: "?"}, true
			}
			return o, true
		}
	}
	return Owner{}, false
}

// Differs says how other differs from o, for a message: "another API key", "another
// organisation id", or "" when they are the same.
func (o Owner) Differs(other Owner) string {
	switch {
	case o.Key != other.Key:
		return "another API key"
	case o.OrganizationID != other.OrganizationID:
		return "another organisation id"
	}
	return ""
}

// ForeignRecord locates the latest state record of a conversation that is not this
// connector's own: written by another owner, or naming none (an earlier release's).
type ForeignRecord struct {
	Partition int32
	Offset    int64
	Key       string
	Owner     Owner
}

// ForeignStateError: the latest state record of one or more conversations was written by a
// connector with another API key or organisation id — another organisation's deployment that
// shares this state topic (and its transactional id), or this organisation's before a key
// rotation. Nothing was published.
type ForeignStateError struct {
	Topic   string
	Want    Owner           // this connector's
	Records []ForeignRecord // by partition and offset
}

func (e *ForeignStateError) Error() string {
	r := e.Records[0]
	more := ""
	if len(e.Records) > 1 {
		more = fmt.Sprintf(" and %d more conversations", len(e.Records)-1)
	}
	return fmt.Sprintf("state topic %s holds the state of %s (partition %d, offset %d, conversation %s%s: written by %s; this connector is %s); "+
		"nothing was published. If another organisation's deployment uses this topic, give this one its own KAFKA_STATE_TOPIC "+
		"and KAFKA_TRANSACTIONAL_ID (unset, the id follows the topic), or its own entry in the organisations file; "+
		"if this organisation's API key was rotated on purpose, start once with STATE_OWNER_CHECK=adopt",
		e.Topic, e.Want.Differs(r.Owner), r.Partition, r.Offset, r.Key, more, r.Owner, e.Want)
}
