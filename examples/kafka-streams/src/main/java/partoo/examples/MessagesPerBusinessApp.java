package partoo.examples;

import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * Joins the events with the conversations table topic and counts messages per business and
 * channel: {@value #COUNT_STORE}, {@code "<business_id>|<messaging_partner>"} → number of
 * {@code MessageCreated} events, the business and channel read from the conversation's row.
 *
 * <p>The conversations table is a {@link GlobalKTable}: every instance holds all of it, and it
 * is read to its end before the events are, so a conversation's row is there for its first
 * message. Events and rows are both keyed by conversation id: no repartitioning.
 *
 * <p>Run from the command line, it prints every update of the count on stdout, one line each:
 * {@code messages-per-business-channel <business_id>|<messaging_partner> <count>}.
 *
 * <pre>mvn -q compile exec:java -Dexec.mainClass=partoo.examples.MessagesPerBusinessApp \
 *   -Dexec.args="BROKERS EVENTS_TOPIC CONVERSATIONS_TABLE_TOPIC [REGISTRY_URL]"</pre>
 */
public final class MessagesPerBusinessApp {
  public static final String COUNT_STORE = "messages-per-business-channel";
  public static final String CONVERSATIONS_STORE = "conversations";

  private MessagesPerBusinessApp() {}

  /** The topology: decode, join each MessageCreated with its conversation's row, count. */
  public static Topology topology(String eventsTopic, String conversationsTopic, EventDecoder decoder) {
    return topology(eventsTopic, conversationsTopic, decoder, false);
  }

  /** The topology; with print, every update of the count is printed on stdout. */
  public static Topology topology(String eventsTopic, String conversationsTopic, EventDecoder decoder, boolean print) {
    StreamsBuilder builder = new StreamsBuilder();
    GenericRecordSerde rows = new GenericRecordSerde(decoder);
    GlobalKTable<String, GenericRecord> conversations = builder.globalTable(conversationsTopic,
        Consumed.with(Serdes.String(), rows).withName("conversations-source"),
        Materialized.<String, GenericRecord>as(Stores.inMemoryKeyValueStore(CONVERSATIONS_STORE))
            .withKeySerde(Serdes.String()).withValueSerde(rows));

    KTable<String, Long> count = builder.stream(eventsTopic, Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .mapValues(decoder::decode)
        // null: a record of an unknown schema, skipped and counted by the decoder
        .filter((conversation, e) -> e != null && "MessageCreated".equals(e.getSchema().getName()))
        // Inner join: a message whose conversation has no row is not counted.
        .join(conversations, (conversation, e) -> conversation,
            (e, row) -> row.get("business_id") + "|" + row.get("messaging_partner"))
        .map((conversation, businessChannel) -> KeyValue.pair(businessChannel, businessChannel))
        .groupByKey(Grouped.with("by-business-channel", Serdes.String(), Serdes.String()))
        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(COUNT_STORE)
            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long())
            .withStoreType(Materialized.StoreType.IN_MEMORY));
    if (print) {
      count.toStream().foreach((businessChannel, n) -> System.out.println(COUNT_STORE + " " + businessChannel + " " + n));
    }
    return builder.build();
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: MessagesPerBusinessApp BROKERS EVENTS_TOPIC CONVERSATIONS_TABLE_TOPIC [SCHEMA_REGISTRY_URL]");
      System.exit(2);
    }
    EventDecoder decoder = new EventDecoder(args.length > 3 ? args[3] : null);
    var cfg = MessageStatusApp.config("partoo-messages-per-business-" + args[1], args[0],
        System.getProperty("java.io.tmpdir") + "/partoo-streams");
    MessageStatusApp.run(new org.apache.kafka.streams.KafkaStreams(topology(args[1], args[2], decoder, true), cfg));
  }
}
