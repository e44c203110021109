package partoo.examples;

import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * Reads the connector's events topic and keeps two tables:
 *
 * <ul>
 *   <li>{@value #STATUS_STORE}: message id → its current status ({@code status_raw}, or {@code
 *       DELETED} once a {@code MessageDeleted} arrives or a message is created deleted);
 *   <li>{@value #COUNT_STORE}: conversation id → number of {@code MessageCreated} events.
 * </ul>
 *
 * <p>Events are keyed by conversation id, so every event of a message arrives in order.
 *
 * <pre>mvn -q compile exec:java -Dexec.args="BROKERS TOPIC [REGISTRY_URL]"</pre>
 */
public final class MessageStatusApp {
  public static final String STATUS_STORE = "message-status";
  public static final String COUNT_STORE = "messages-per-conversation";
  public static final String DELETED = "DELETED";

  private MessageStatusApp() {}

  /** The topology: decode, then the two tables. */
  public static Topology topology(String topic, EventDecoder decoder) {
    StreamsBuilder builder = new StreamsBuilder();
    KStream<String, GenericRecord> events =
        builder.stream(topic, Consumed.with(Serdes.String(), Serdes.ByteArray())).mapValues(decoder::decode);

    events
        .map((conversation, e) -> KeyValue.pair(String.valueOf(e.get("message_id")), statusOf(e)))
        .groupByKey(Grouped.with("by-message", Serdes.String(), Serdes.String()))
        // A deletion is final: a later status change does not bring the message back.
        .reduce((before, now) -> DELETED.equals(before) ? before : now,
            Materialized.<String, String>as(Stores.inMemoryKeyValueStore(STATUS_STORE))
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.String()));

    events
        .filter((conversation, e) -> "MessageCreated".equals(e.getSchema().getName()))
        .groupByKey(Grouped.with(Serdes.String(), null))
        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(COUNT_STORE)
            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long())
            .withStoreType(Materialized.StoreType.IN_MEMORY));
    return builder.build();
  }

  /** The status an event gives its message. */
  static String statusOf(GenericRecord e) {
    switch (e.getSchema().getName()) {
      case "MessageCreated": {
        GenericRecord m = (GenericRecord) e.get("message");
        return Boolean.TRUE.equals(m.get("is_deleted")) ? DELETED : m.get("status_raw").toString();
      }
      case "StatusChanged":
        return e.get("status_raw").toString();
      case "MessageDeleted":
        return DELETED;
      default:
        throw new IllegalArgumentException("unknown event " + e.getSchema().getFullName());
    }
  }

  /** Streams settings: read only committed events (the connector writes in transactions). */
  public static Properties config(String applicationId, String brokers, String stateDir) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.ISOLATION_LEVEL_CONFIG), "read_committed");
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    return p;
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: MessageStatusApp BROKERS TOPIC [SCHEMA_REGISTRY_URL]");
      System.exit(2);
    }
    EventDecoder decoder = new EventDecoder(args.length > 2 ? args[2] : null);
    Properties cfg = config("partoo-message-status", args[0], System.getProperty("java.io.tmpdir") + "/partoo-streams");
    KafkaStreams streams = new KafkaStreams(topology(args[1], decoder), cfg);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close();
      done.countDown();
    }));
    streams.start();
    done.await();
  }
}
