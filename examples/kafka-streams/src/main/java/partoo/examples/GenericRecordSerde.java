package partoo.examples;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A state store's serde for decoded rows: written as Avro single-object encoding (the schema's
 * fingerprint, then the body), read back with {@link EventDecoder}. A global table's store is
 * filled from the topic's raw bytes, which the decoder reads in either framing.
 */
final class GenericRecordSerde implements Serde<GenericRecord> {
  private final EventDecoder decoder;

  GenericRecordSerde(EventDecoder decoder) {
    this.decoder = decoder;
  }

  @Override
  public Serializer<GenericRecord> serializer() {
    return (topic, record) -> {
      if (record == null) {
        return null;
      }
      try {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new BinaryMessageEncoder<GenericRecord>(org.apache.avro.generic.GenericData.get(), record.getSchema())
            .encode(record, out);
        return out.toByteArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
  }

  @Override
  public Deserializer<GenericRecord> deserializer() {
    return (topic, bytes) -> decoder.decode(bytes);
  }
}
