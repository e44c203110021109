package doctor

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/partoo-connector/partoo-connector/connector/internal/config"
	"github.com/partoo-connector/partoo-connector/connector/internal/kafkatopic"
	"github.com/partoo-connector/partoo-connector/connector/internal/state"
)

// ownerTail is how many of the latest offsets of each state partition the owner check reads.
const ownerTail = 200

// checkStateOwner reads the latest records of each partition of the state topic and says whose
// they are (every state record names its owner: state.Owner): this key's; another key's or
// organisation's (✗: the connector would refuse to start, unless STATE_OWNER_CHECK=adopt); or
// an earlier release's, without the header (the next start takes them as this key's).
func checkStateOwner(ctx context.Context, kopts []kgo.Opt, cfg *config.Config, r reporter) {
	name := "state owner " + cfg.KafkaStateTopic
	mine := state.NewOwner(cfg.PartooAPIKey.Reveal(), cfg.PartooOrgID)
	var own, unowned, foreign int
	var first *kgo.Record
	var theirs state.Owner
	rctx, cancel := context.WithTimeout(ctx, KafkaTimeout)
	defer cancel()
	err := kafkatopic.ReadTail(rctx, kopts, cfg.KafkaStateTopic, ownerTail, func(rec *kgo.Record) error {
		if rec.Value == nil {
			return nil // a tombstone holds no state
		}
		switch o, named := state.RecordOwner(rec); {
		case !named:
			unowned++
		case mine.Differs(o) == "":
			own++
		default:
			if foreign++; first == nil {
				first, theirs = rec, o
			}
		}
		return nil
	})
	latest := fmt.Sprintf("%d of the latest %d records", foreign, own+unowned+foreign)
	switch {
	case err != nil:
		r.warn(name, "cannot read its latest records: "+err.Error(), "the user needs Read on the state topic")
	case foreign > 0 && cfg.StateOwnerCheck == "adopt":
		r.warn(name, fmt.Sprintf("%s: %s were written by %s, this connector is %s", mine.Differs(theirs), latest, theirs, mine),
			"STATE_OWNER_CHECK=adopt: the next start takes them over as this key's (a key rotation); remove the setting after it")
	case foreign > 0:
		r.fail(name, fmt.Sprintf("%s: %s were written by %s, e.g. partition %d offset %d; this connector is %s",
			mine.Differs(theirs), latest, theirs, first.Partition, first.Offset, mine),
			"the connector would refuse to start: if another organisation's deployment uses this topic, give this one its own KAFKA_STATE_TOPIC and KAFKA_TRANSACTIONAL_ID; after a deliberate key rotation, start once with STATE_OWNER_CHECK=adopt")
	case own+unowned == 0:
		r.pass(name, "empty: the state will be this key's ("+mine.String()+")")
	case own == 0:
		r.pass(name, fmt.Sprintf("written by an earlier release (no owner header on the latest %d records): the next start takes it as this key's and marks it", unowned))
	default:
		r.pass(name, fmt.Sprintf("this key (%s): the latest %d records", mine, own+unowned))
	}
}
