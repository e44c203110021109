package partoo.examples;

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
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.BinaryMessageDecoder;

/**
 * Decodes the connector's event values and table rows, in either framing.
 *
 * <ul>
 *   <li>Avro single-object encoding (C3 01, the schema's 8-byte CRC-64-AVRO fingerprint, the
 *       body): Avro's own {@link BinaryMessageDecoder}, one per event schema.
 *   <li>The Confluent wire format (byte 0, the registry's 4-byte big-endian schema id, the body):
 *       the writer's schema is fetched once per id from the registry's REST API ({@code GET
 *       /schemas/ids/{id}}) and resolved against the local schema of the same name.
 * </ul>
 */
public final class EventDecoder {
  static final List<String> TYPES = List.of("MessageCreated", "StatusChanged", "MessageDeleted");
  /** The table topics' row schemas, decoded the same way. */
  static final List<String> ROWS = List.of("MessageRow", "ConversationRow");

  private final Map<Long, BinaryMessageDecoder<GenericRecord>> byFingerprint = new HashMap<>();
  private final Map<String, Schema> localByName = new HashMap<>();
  private final Map<Integer, GenericDatumReader<GenericRecord>> byId = new ConcurrentHashMap<>();
  private final String registryUrl; // null: single-object only
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final ObjectMapper json = new ObjectMapper();

  public EventDecoder(String registryUrl) throws IOException {
    this.registryUrl = registryUrl == null || registryUrl.isEmpty() ? null : registryUrl.replaceAll("/+$", "");
    for (String type : concat(TYPES, ROWS)) {
      try (InputStream in = EventDecoder.class.getResourceAsStream("/schemas/" + type + ".avsc")) {
        if (in == null) {
          throw new IOException("schema " + type + ".avsc is not on the classpath");
        }
        Schema schema = new Schema.Parser().parse(in);
        localByName.put(schema.getFullName(), schema);
        byFingerprint.put(SchemaNormalization.parsingFingerprint64(schema),
            new BinaryMessageDecoder<>(GenericData.get(), schema));
      }
    }
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new java.util.ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  /** Decodes one record value; a tombstone (null) gives null. */
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
      long fp = ByteBuffer.wrap(value, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
      BinaryMessageDecoder<GenericRecord> decoder = byFingerprint.get(fp);
      if (decoder == null) {
        throw new IllegalArgumentException(String.format("unknown schema fingerprint %016x", fp));
      }
      return decoder.decode(value);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot decode an event: " + e.getMessage(), e);
    }
  }

  private GenericRecord decodeConfluent(byte[] value) throws IOException {
    if (registryUrl == null) {
      throw new IllegalArgumentException("a Confluent wire format value, but no schema registry URL was given");
    }
    int id = ByteBuffer.wrap(value, 1, 4).order(ByteOrder.BIG_ENDIAN).getInt();
    GenericDatumReader<GenericRecord> reader = byId.get(id);
    if (reader == null) {
      Schema writer = new Schema.Parser().parse(fetchSchema(id));
      Schema local = localByName.getOrDefault(writer.getFullName(), writer);
      reader = new GenericDatumReader<>(writer, local);
      byId.put(id, reader);
    }
    BinaryDecoder in = DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, null);
    return reader.read(null, in);
  }

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
    if (resp.statusCode() != 200) {
      throw new IOException("schema registry answered HTTP " + resp.statusCode() + " for schema id " + id);
    }
    return json.readTree(resp.body()).get("schema").asText();
  }
}
