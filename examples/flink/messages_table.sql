-- The messages table topic as a Flink dynamic table: upsert-kafka keeps the last row of each
-- message id and removes the ids whose last record is a tombstone (a deleted message).
-- ${brokers}, ${messages_table_topic} and ${registry} are yours to fill in.
-- The row's fields are plain strings and timestamps come twice: `date` (timestamp-micros: read
-- as BIGINT, convert with TO_TIMESTAMP_LTZ(col, 6); never TIMESTAMP(3), which would read the
-- microseconds as milliseconds) and date_ms (timestamp-millis, TIMESTAMP(3) as it is).
-- 'scan.bounded.mode' makes a bounded read (what the test runs); drop it to keep streaming.

CREATE TEMPORARY TABLE messages_table (
  id                     STRING,        -- the record key: the message id, decimal
  message_id             BIGINT,
  conversation_id        BIGINT,
  organization_id        BIGINT,
  business_id            STRING,
  messaging_partner      STRING,
  `date`                 BIGINT,        -- timestamp-micros
  date_ms                TIMESTAMP(3),  -- timestamp-millis
  content_type           STRING,
  sender_type            STRING,
  sender_label           STRING,
  status                 STRING,
  content                STRING,
  content_truncated_from BIGINT,
  user_id                STRING,
  custom_channel         STRING,
  event_id               STRING,
  updated_at             BIGINT,        -- timestamp-micros
  updated_at_ms          TIMESTAMP(3),  -- timestamp-millis
  PRIMARY KEY (id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '${messages_table_topic}',
  'properties.bootstrap.servers' = '${brokers}',
  'properties.isolation.level' = 'read_committed',
  'scan.bounded.mode' = 'latest-offset',
  'key.format' = 'raw',
  'value.format' = 'avro-confluent',
  'value.avro-confluent.url' = '${registry}',
  'value.fields-include' = 'EXCEPT_KEY'
);

CREATE TEMPORARY VIEW messages AS
SELECT
  id, message_id, conversation_id, organization_id, business_id, messaging_partner,
  TO_TIMESTAMP_LTZ(`date`, 6) AS message_date,
  date_ms AS message_date_ms,
  content_type, sender_type, sender_label, status, content, content_truncated_from,
  user_id, custom_channel, event_id,
  TO_TIMESTAMP_LTZ(updated_at, 6) AS updated_at,
  updated_at_ms
FROM messages_table;
