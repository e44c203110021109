package partoo.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Runs the applications against a real broker on topics an end-to-end connector run wrote, and
 * checks their tables against the simulator's ground truth: {@link MessageStatusApp}'s two, and
 * {@link MessagesPerBusinessApp}'s join of the events with the conversations table.
 *
 * <p>-Dpartoo.cases=FILE names a JSON list of {brokers, topic, registry (may be empty), truth,
 * conversations_table, created_per_business_partner}, where truth is {status: {message id:
 * status}, created_per_conversation: {id: n}} and created_per_business_partner is {"business
 * id|messaging partner": n}. The connector's Go test (connector/internal/engine/consumers_test.go)
 * writes it and runs this test; it prints one "match the ground truth" line per case.
 */
class MessageStatusAppTest {
  private static final long TIMEOUT_MS = 120_000;
  private final ObjectMapper json = new ObjectMapper();

  @Test
  void tablesMatchTheSimulatorsGroundTruth() throws Exception {
    String cases = System.getProperty("partoo.cases", "");
    Assumptions.assumeFalse(cases.isEmpty(), "no -Dpartoo.cases: run by the connector's Go test");
    for (JsonNode c : json.readTree(new File(cases))) {
      String topic = c.get("topic").asText();
      int statuses = check(c.get("brokers").asText(), topic, c.get("registry").asText(), c.get("truth"), c.get("skipped"));
      // An old build's topics may have no conversations table to join with.
      int businessChannels = c.path("created_per_business_partner").isObject()
          ? checkJoin(c.get("brokers").asText(), topic, c.get("conversations_table").asText(),
              c.get("registry").asText(), c.get("created_per_business_partner"))
          : 0;
      System.out.printf("kafka-streams example: %s: %d messages, %d business|channel counts match the ground truth%n",
          topic, statuses, businessChannels);
    }
  }

  /** MessagesPerBusinessApp's counts must equal the ground truth; returns how many. */
  private int checkJoin(String brokers, String topic, String conversations, String registry, JsonNode truth)
      throws Exception {
    Map<String, Long> want = new TreeMap<>();
    truth.fields().forEachRemaining(f -> want.put(f.getKey(), f.getValue().asLong()));
    Path stateDir = Files.createTempDirectory("partoo-streams");
    String appId = "partoo-join-" + topic.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + System.nanoTime();
    try (KafkaStreams streams = new KafkaStreams(
        MessagesPerBusinessApp.topology(topic, conversations, new EventDecoder(registry)),
        MessageStatusApp.config(appId, brokers, stateDir.toString()))) {
      streams.start();
      long deadline = System.currentTimeMillis() + TIMEOUT_MS;
      Map<String, Long> got = Map.of();
      while (System.currentTimeMillis() < deadline) {
        if (streams.state() == KafkaStreams.State.ERROR) {
          fail("the join application failed on " + topic);
        }
        if (streams.state() == KafkaStreams.State.RUNNING) {
          try {
            got = read(streams.store(StoreQueryParameters.fromNameAndType(
                MessagesPerBusinessApp.COUNT_STORE, QueryableStoreTypes.<String, Long>keyValueStore())));
          } catch (org.apache.kafka.streams.errors.InvalidStateStoreException e) {
            // rebalancing: ask again
          }
          if (got.equals(want)) {
            return got.size();
          }
        }
        Thread.sleep(200);
      }
      assertEquals(want, got, topic + " joined with " + conversations + ": MessageCreated per business|channel");
      return got.size();
    }
  }

  private int check(String brokers, String topic, String registry, JsonNode truth, JsonNode skipped) throws Exception {
    Map<String, Long> wantSkipped = new TreeMap<>();
    if (skipped != null && skipped.isObject()) {
      skipped.fields().forEachRemaining(f -> wantSkipped.put(f.getKey(), f.getValue().asLong()));
    }
    Map<String, String> wantStatus = new TreeMap<>();
    truth.get("status").fields().forEachRemaining(f -> wantStatus.put(f.getKey(), f.getValue().asText()));
    Map<String, Long> wantCount = new TreeMap<>();
    truth.get("created_per_conversation").fields().forEachRemaining(f -> wantCount.put(f.getKey(), f.getValue().asLong()));

    Path stateDir = Files.createTempDirectory("partoo-streams");
    String appId = "partoo-example-" + topic.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + System.nanoTime();
    EventDecoder decoder = new EventDecoder(registry);
    try (KafkaStreams streams =
        new KafkaStreams(MessageStatusApp.topology(topic, decoder), MessageStatusApp.config(appId, brokers, stateDir.toString()))) {
      streams.start();
      long deadline = System.currentTimeMillis() + TIMEOUT_MS;
      Map<String, String> gotStatus = Map.of();
      Map<String, Long> gotCount = Map.of();
      while (System.currentTimeMillis() < deadline) {
        if (streams.state() == KafkaStreams.State.ERROR) {
          fail("the streams application failed on " + topic);
        }
        if (streams.state() == KafkaStreams.State.RUNNING) {
          try {
            gotStatus = read(streams.store(StoreQueryParameters.fromNameAndType(
                MessageStatusApp.STATUS_STORE, QueryableStoreTypes.<String, String>keyValueStore())));
            gotCount = read(streams.store(StoreQueryParameters.fromNameAndType(
                MessageStatusApp.COUNT_STORE, QueryableStoreTypes.<String, Long>keyValueStore())));
          } catch (org.apache.kafka.streams.errors.InvalidStateStoreException e) {
            // rebalancing: ask again
          }
          if (gotStatus.equals(wantStatus) && gotCount.equals(wantCount) && decoder.skipped().equals(wantSkipped)) {
            return gotStatus.size();
          }
        }
        Thread.sleep(200);
      }
      assertEquals(wantCount, gotCount, topic + ": messages per conversation");
      assertEquals(wantSkipped, decoder.skipped(), topic + ": records of unknown schemas skipped");
      assertEquals(wantStatus, gotStatus, topic + ": message statuses");
      return gotStatus.size();
    }
  }

  private static <V> Map<String, V> read(ReadOnlyKeyValueStore<String, V> store) {
    Map<String, V> out = new TreeMap<>();
    try (KeyValueIterator<String, V> it = store.all()) {
      while (it.hasNext()) {
        KeyValue<String, V> kv = it.next();
        out.put(kv.key, kv.value);
      }
    }
    return out;
  }
}
