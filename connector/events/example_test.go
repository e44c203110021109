package events_test

import (
	"encoding/hex"
	"fmt"

	"github.com/partoo-connector/partoo-connector/connector/events"
)

func ExampleDecoder_Decode() {
	// The value of a MessageCreated record in single-object encoding, as a consumer reads it
	// from the events topic (with its schema_fingerprint header, needed only for values in
	// the Confluent wire format).
	value, _ := hex.DecodeString("c301af0151c8698d0d380869642d31540e80a991e0d8c0b006010e548c84d6c3b7e4f90510104361726f7573656c0008557365720a4167656e74000e53656e64696e6700046869020c757365722d31020e7b2261223a317d00")
	d, err := events.NewDecoder(events.Config{})
	if err != nil {
		panic(err)
	}
	e, err := d.Decode(value, "af0151c8698d0d38")
	if err != nil {
		panic(err)
	}
	switch e.Type {
	case events.MessageCreated:
		fmt.Println(e.Type, e.ID, e.ConversationID, e.MessageID, e.Snapshot)
		fmt.Println(e.Message.SenderType, e.Message.ContentType, e.Message.Status, e.Message.Content, e.Message.Date)
	}
	// Output:
	// MessageCreated id-1 42 7 true
	// User Carousel Sending hi 2023-01-31 16:22:17.327878 +0000 UTC
}
