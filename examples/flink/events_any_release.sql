-- The events topic in Flink SQL when it holds records of releases before this one (records
-- without the event_type field, context nor reason_raw): filter on the event_type HEADER, which
-- every release wrote, instead of the field. ${brokers}, ${events_topic} and ${registry} are
-- yours to fill in.
--
-- * An old record read with these columns gets NULL for the fields it lacks (reason_raw,
--   business_id, messaging_partner_raw): take business and channel from the conversations
--   table. A deletion's reason is the enum `reason`, which Flink cannot read into a STRING; a
--   ConsumerDeleted deletion carries the message with is_deleted = true, a Vanished one the
--   message as last known, is_deleted = false: that gives the reason of an old deletion.
-- * A record whose schema id the registry does not know stops the job (avro-confluent has no
--   option to skip it).

CREATE TEMPORARY TABLE events_any_release (
  headers          MAP<STRING, BYTES> METADATA,
  event_id         STRING,
  conversation_id  BIGINT,
  message_id       BIGINT,
  detected_at      BIGINT,        -- timestamp-micros
  reason_raw       STRING,        -- NULL in deletions before it existed
  status_raw       STRING,        -- StatusChanged's
  message ROW<
    id               BIGINT,
    status_raw       STRING,
    is_deleted       BOOLEAN
  >
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

CREATE TEMPORARY VIEW events_of_any_release AS
SELECT
  CAST(headers['event_type'] AS STRING) AS event_type,
  event_id, conversation_id, message_id,
  TO_TIMESTAMP_LTZ(detected_at, 6) AS detected_at,
  CASE CAST(headers['event_type'] AS STRING)
    WHEN 'MessageCreated' THEN message.status_raw
    WHEN 'StatusChanged' THEN status_raw
  END AS status,
  CASE WHEN CAST(headers['event_type'] AS STRING) = 'MessageDeleted' THEN
    COALESCE(NULLIF(reason_raw, ''), CASE WHEN message.is_deleted THEN 'ConsumerDeleted' ELSE 'Vanished' END)
  END AS reason
FROM events_any_release;

-- name: any_release_events_by_type
SELECT event_type, COUNT(*) AS events FROM events_of_any_release GROUP BY event_type;

-- name: any_release_message_deleted
SELECT message_id, reason FROM events_of_any_release WHERE event_type = 'MessageDeleted';
