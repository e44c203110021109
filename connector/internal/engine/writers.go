package engine

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// otherWriter is a transactional producer, not this engine's, that wrote to its state topic
// after the engine started: a second deployment of the same organisation and topics under
// another KAFKA_TRANSACTIONAL_ID, which the transactional id cannot fence. Each of the two
// publishes every change (duplicates); this is reported, since which one should stop is the
// operator's call.
type otherWriter struct {
	producerID int64
	partition  int32
	at         time.Time
}

func (o *otherWriter) String() string {
	return fmt.Sprintf("another producer (producer id %d) wrote to the state topic's partition %d at %s, after this connector started: "+
		"two deployments of this organisation write the same topics under different KAFKA_TRANSACTIONAL_IDs, and each publishes every change "+
		"(duplicates); stop one, or give both the same transactional id (the default) or leader election", o.producerID, o.partition, o.at.UTC().Format(time.RFC3339))
}

// otherWriterMemory is how long another writer stays reported after its last write seen.
const otherWriterMemory = 5 * time.Minute

// producersSeen hears which transactional producers wrote to the state topic's partitions
// (DescribeProducers, asked every 30 s for every organisation at once by the process's Kafka
// layer) and reports one that is not this engine's and wrote after it began writing: one
// ERROR line per producer id, a /status reason, a metric. Idempotent, non-transactional
// producers (this process's tombstones of corrupt records, rebuild-state) have no coordinator
// epoch and are not counted. A report is forgotten otherWriterMemory after the last write seen.
func (c *Engine) producersSeen(parts kadm.DescribedProducersPartitions) {
	own := c.pub.OwnProducerIDs()
	var found *otherWriter
	for _, part := range parts {
		part.ActiveProducers.Each(func(p kadm.DescribedProducer) {
			at := time.UnixMilli(p.LastTimestamp)
			if own[p.ProducerID] || p.CoordinatorEpoch < 0 || !at.After(c.writing) {
				return
			}
			if found == nil || at.After(found.at) {
				found = &otherWriter{producerID: p.ProducerID, partition: p.Partition, at: at}
			}
		})
	}
	if found == nil {
		if o := c.otherWriter.Load(); o != nil && time.Since(o.at) >= otherWriterMemory {
			c.otherWriter.Store(nil)
			c.opt.Metrics.SetOtherWriter(false)
		}
		return
	}
	prev := c.otherWriter.Swap(found)
	c.opt.Metrics.SetOtherWriter(true)
	if prev == nil || prev.producerID != found.producerID {
		c.log.Error("another writer of this organisation's state topic", "state_topic", c.opt.Topics.State,
			"producer_id", found.producerID, "err", found.String())
	}
}
