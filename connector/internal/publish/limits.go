package publish

// ProducerMaxBytes is the producer's own cap on a batch of event records (franz-go's
// ProducerBatchMaxBytes): events never exceed it, whatever the topic allows.
const ProducerMaxBytes = 1 << 20
