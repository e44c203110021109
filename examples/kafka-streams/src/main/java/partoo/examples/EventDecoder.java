package partoo.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * Decodes the connector's event values and table rows, in either framing, written by any
 * release of the connector.
 *
 * <ul>
 *   <li>Avro single-object encoding (C3 01, the schema's 8-byte CRC-64-AVRO fingerprint, the
 *       body): the writer's schema is found by its fingerprint in the repository's {@code
 *       schemas/history/fingerprints.json} (every schema a release wrote, on the classpath as
 *       {@code /schemas/history/}).
 *   <li>The Confluent wire format (byte 0, the registry's 4-byte big-endian schema id, the body):
 *       the writer's schema is fetched once per id from the registry's REST API ({@code GET
 *       /schemas/ids/{id}}).
 * </ul>
 *
 * <p>Either way the writer's schema is resolved to today's schema of the same name ({@code
 * GenericDatumReader(writer, reader)}): a record of any release comes out with today's fields,
 * those added since at their defaults. A record whose fingerprint or schema id no release wrote
 * is skipped: {@link #decode} returns null, counts it ({@link #skipped}) and says so on stderr
 * (its first record, then every 1000th), naming the fingerprint or id.
 */
public final class EventDecoder {
  static final List<String> TYPES = List.of("MessageCreated", "StatusChanged", "MessageDeleted");
  /** The table topics' row schemas, decoded the same way. */
  static final List<String> ROWS = List.of("MessageRow", "ConversationRow");

  /** Fingerprint as on the wire (hex) → a reader from that writer's schema to today's. */
  private final Map<String, GenericDatumReader<GenericRecord>> byFingerprint = new HashMap<>();
  private final Map<String, Schema> localByName = new HashMap<>();
  /** Registry id → a reader, or empty when the registry does not know the id. */
  private final Map<Integer, Optional<GenericDatumReader<GenericRecord>>> byId = new ConcurrentHashMap<>();
  private final Map<String, Long> skipped = new ConcurrentHashMap<>();
  private final String registryUrl; // null: single-object only
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final ObjectMapper json = new ObjectMapper();

  public EventDecoder(String registryUrl) throws IOException {
    this.registryUrl = registryUrl == null || registryUrl.isEmpty() ? null : registryUrl.replaceAll("/+$", "");
    for (String type : concat(TYPES, ROWS)) {
      Schema schema = parse("/schemas/" + type + ".avsc");
      localByName.put(schema.getFullName(), schema);
      byFingerprint.put(hex(SchemaNormalization.parsingFingerprint64(schema)), new GenericDatumReader<>(schema, schema));
    }
    JsonNode list;
    try (InputStream in = resource("/schemas/history/fingerprints.json")) {
      list = json.readTree(in).get("fingerprints");
    }
    for (JsonNode entry : list) {
      Schema writer = parse("/schemas/history/" + entry.get("schema").asText());
      Schema reader = localByName.get(writer.getFullName());
      if (reader != null) { // the state's schema is the connector's own
        byFingerprint.put(entry.get("fingerprint").asText(), new GenericDatumReader<>(writer, reader));
      }
    }
  }

  private static InputStream resource(String path) throws IOException {
    InputStream in = EventDecoder.class.getResourceAsStream(path);
    if (in == null) {
      throw new IOException(path + " is not on the classpath");
    }
    return in;
  }

  private static Schema parse(String path) throws IOException {
    try (InputStream in = resource(path)) {
      return new Schema.Parser().parse(in);
    }
  }

  /** A fingerprint as the wire and schema_fingerprint header write it: its 8 little-endian bytes in hex. */
  private static String hex(long fp) {
    return String.format("%016x", Long.reverseBytes(fp));
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new java.util.ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  /** The records skipped so far: "fingerprint HEX" or "schema id N" → count. */
  public Map<String, Long> skipped() {
    return new TreeMap<>(skipped);
  }

  private GenericRecord skip(String what) {
    long n = skipped.merge(what, 1L, Long::sum);
    if (n == 1 || n % 1000 == 0) {
      System.err.printf("EventDecoder: skipped %d records of unknown schema %s%n", n, what);
    }
    return null;
  }

  /** Decodes one record value; a tombstone (null), or a record of an unknown schema, gives null. */
  public GenericRecord decode(byte[] value) {
    if (value == null) {
      return null;
    }
    try {
      if (value.length >= 5 && value[0] == 0) {
        return decodeConfluent(value);
      }
      if (value.length < 10 || value[0] != (byte) 0xC3 || value[1] != 0x01) {
        throw new IllegalArgumentException("neither single-object encoded nor in the Confluent wire format");
      }
      StringBuilder fp = new StringBuilder();
      for (int i = 2; i < 10; i++) {
        fp.append(String.format("%02x", value[i]));
      }
      GenericDatumReader<GenericRecord> reader = byFingerprint.get(fp.toString());
      if (reader == null) {
        return skip("fingerprint " + fp);
      }
      return reader.read(null, DecoderFactory.get().binaryDecoder(value, 10, value.length - 10, null));
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot decode an event: " + e.getMessage(), e);
    }
  }

  private GenericRecord decodeConfluent(byte[] value) throws IOException {
    if (registryUrl == null) {
      throw new IllegalArgumentException("a Confluent wire format value, but no schema registry URL was given");
    }
    int id = ByteBuffer.wrap(value, 1, 4).order(ByteOrder.BIG_ENDIAN).getInt();
    Optional<GenericDatumReader<GenericRecord>> reader = byId.get(id);
    if (reader == null) {
      String text = fetchSchema(id);
      if (text == null) {
        reader = Optional.empty();
      } else {
        Schema writer = new Schema.Parser().parse(text);
        Schema local = localByName.get(writer.getFullName());
        reader = local == null ? Optional.empty() : Optional.of(new GenericDatumReader<>(writer, local));
      }
      byId.put(id, reader);
    }
    if (reader.isEmpty()) {
      return skip("schema id " + id);
    }
    BinaryDecoder in = DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, null);
    return reader.get().read(null, in);
  }

  /** The schema of a registry id; null when the registry answers 404 (it does not know the id). */
  private String fetchSchema(int id) throws IOException {
    HttpRequest req = HttpRequest.newBuilder(URI.create(registryUrl + "/schemas/ids/" + id))
        .header("Accept", "application/vnd.schemaregistry.v1+json")
        .timeout(Duration.ofSeconds(10))
        .build();
    HttpResponse<String> resp;
    try {
      resp = http.send(req, HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    if (resp.statusCode() == 404) {
      return null;
    }
    if (resp.statusCode() != 200) {
      throw new IOException("schema registry answered HTTP " + resp.statusCode() + " for schema id " + id);
    }
    return json.readTree(resp.body()).get("schema").asText();
  }
}
