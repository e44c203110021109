-- What NOT to write. The test runs these too, so that the warnings of docs/recipes.md are
-- facts of the Flink versions it uses: if one of them stops holding, the test says so.

-- TIMESTAMP(3) over a timestamp-micros field: runs without an error and reads the
-- microseconds as milliseconds (2026-11-29 becomes a date in the year 8882).
CREATE TEMPORARY TABLE wrong_millis (
  event_type  STRING,
  message_id  BIGINT,
  detected_at TIMESTAMP(3)  -- WRONG: detected_at is timestamp-micros
) WITH (
  'connector' = 'kafka',
  'topic' = '${events_topic}',
  'properties.bootstrap.servers' = '${brokers}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset',
  'value.format' = 'avro-confluent',
  'value.avro-confluent.url' = '${registry}'
);

-- TIMESTAMP(6), the type that would fit: refused when a query is planned ("Avro does not
-- support TIMESTAMP type with precision: 6, it only supports precision less than 3").
CREATE TEMPORARY TABLE refused_micros (
  event_type  STRING,
  message_id  BIGINT,
  detected_at TIMESTAMP(6)  -- refused by avro-confluent
) WITH (
  'connector' = 'kafka',
  'topic' = '${events_topic}',
  'properties.bootstrap.servers' = '${brokers}',
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset',
  'value.format' = 'avro-confluent',
  'value.avro-confluent.url' = '${registry}'
);

-- name: wrong_millis
SELECT message_id, detected_at FROM wrong_millis WHERE event_type = 'MessageCreated';

-- name: refused_micros
SELECT message_id, detected_at FROM refused_micros WHERE event_type = 'MessageCreated';
