package partoo.connect;

import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.transforms.Transformation;

/**
 * Replaces every U+0000 in the string fields of a record's value (a flat struct) by U+FFFD, the
 * Unicode replacement character: PostgreSQL's text types cannot hold U+0000 ("invalid byte
 * sequence for encoding UTF8: 0x00"), and one such message would stop the sink for good. Other
 * values, and tombstones, pass as they are.
 *
 * <pre>transforms.nul.type=partoo.connect.ReplaceNul</pre>
 */
public final class ReplaceNul<R extends ConnectRecord<R>> implements Transformation<R> {
  static final String REPLACEMENT = "\uFFFD";

  @Override
  public R apply(R record) {
    if (!(record.value() instanceof Struct value)) {
      return record;
    }
    Struct out = null;
    for (Field f : value.schema().fields()) {
      if (f.schema().type() != Schema.Type.STRING || !(value.get(f) instanceof String s) || s.indexOf('\0') < 0) {
        continue;
      }
      if (out == null) {
        out = new Struct(value.schema());
        for (Field g : value.schema().fields()) {
          out.put(g, value.get(g));
        }
      }
      out.put(f, s.replace("\0", REPLACEMENT));
    }
    if (out == null) {
      return record;
    }
    return record.newRecord(record.topic(), record.kafkaPartition(), record.keySchema(), record.key(),
        record.valueSchema(), out, record.timestamp(), record.headers());
  }

  @Override
  public ConfigDef config() {
    return new ConfigDef();
  }

  @Override
  public void configure(Map<String, ?> configs) {}

  @Override
  public void close() {}
}
