package partoo.examples;

import java.time.Duration;
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
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
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
 * <p>Events are keyed by conversation id, so every event of a message arrives in order. Run
 * from the command line, it prints every update of both tables on stdout, one line each:
 * {@code message-status <message id> <status>} and {@code messages-per-conversation
 * <conversation id> <count>}; a record of a schema no release wrote is skipped and named on
 * stderr ({@link EventDecoder}); if the application stops on an error, it says why on stderr and
 * exits 1.
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
    return topology(topic, decoder, false);
  }

  /** The topology; with print, every update of either table is printed on stdout. */
  public static Topology topology(String topic, EventDecoder decoder, boolean print) {
    StreamsBuilder builder = new StreamsBuilder();
    KStream<String, GenericRecord> events = builder.stream(topic, Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .mapValues(decoder::decode)
        .filter((conversation, e) -> e != null); // a record of an unknown schema: skipped and counted

    KTable<String, String> status = events
        .map((conversation, e) -> KeyValue.pair(String.valueOf(e.get("message_id")), statusOf(e)))
        .groupByKey(Grouped.with("by-message", Serdes.String(), Serdes.String()))
        // A deletion is final: a later status change does not bring the message back.
        .reduce((before, now) -> DELETED.equals(before) ? before : now,
            Materialized.<String, String>as(Stores.inMemoryKeyValueStore(STATUS_STORE))
                .withKeySerde(Serdes.String()).withValueSerde(Serdes.String()));

    KTable<String, Long> count = events
        .filter((conversation, e) -> "MessageCreated".equals(e.getSchema().getName()))
        .groupByKey(Grouped.with(Serdes.String(), null))
        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(COUNT_STORE)
            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long())
            .withStoreType(Materialized.StoreType.IN_MEMORY));
    if (print) {
      status.toStream().foreach((message, s) -> System.out.println(STATUS_STORE + " " + message + " " + s));
      count.toStream().foreach((conversation, n) -> System.out.println(COUNT_STORE + " " + conversation + " " + n));
    }
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
    // One application id per topic: its offsets, internal topics and state belong to that topic.
    Properties cfg = config("partoo-message-status-" + args[1], args[0], System.getProperty("java.io.tmpdir") + "/partoo-streams");
    run(new KafkaStreams(topology(args[1], decoder, true), cfg));
  }

  /**
   * Runs an application until the process is stopped (then it closes it) or the application
   * stops on an error: then the error is printed on stderr and the process exits 1.
   */
  static void run(KafkaStreams streams) throws InterruptedException {
    CountDownLatch failed = new CountDownLatch(1);
    streams.setUncaughtExceptionHandler(e -> {
      System.err.println("stopped: " + e);
      e.printStackTrace();
      failed.countDown();
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(streams::close));
    streams.start();
    failed.await();
    streams.close(Duration.ofSeconds(10));
    System.exit(1);
  }
}
