-- The events topic in Flink SQL: one table per record type, all over the same topic.
-- ${brokers}, ${events_topic} and ${registry} are yours to fill in.
--
-- * Timestamps: `avro-confluent` refuses TIMESTAMP(6), and TIMESTAMP(3) over a
--   timestamp-micros field reads microseconds as milliseconds (wrong dates, no error). Read the
--   micros fields as BIGINT and convert with TO_TIMESTAMP_LTZ(col, 6), or read the *_ms twins
--   (timestamp-millis) as TIMESTAMP(3).
-- * Enums: an Avro enum cannot be read into a STRING column; read the *_raw twins.
-- * One topic, several record types: each table reads every record, with nulls for the fields
--   of other types, so each view keeps its own type on the plain-string event_type field.
-- * 'scan.bounded.mode' makes a bounded read (what the test runs); drop it to keep streaming.

CREATE TEMPORARY TABLE message_created_all (
  event_type            STRING,
  event_id              STRING,
  conversation_id       BIGINT,
  message_id            BIGINT,
  detected_at           BIGINT,        -- timestamp-micros
  detected_at_ms        TIMESTAMP(3),  -- timestamp-millis
  `snapshot`            BOOLEAN,
  organization_id       BIGINT,
  business_id           STRING,
  messaging_partner_raw STRING,
  message ROW<
    id                     BIGINT,
    conversation_id        BIGINT,
    `date`                 BIGINT,        -- timestamp-micros
    date_ms                TIMESTAMP(3),  -- timestamp-millis
    content_type_raw       STRING,
    sender_type_raw        STRING,
    sender_label           STRING,
    status_raw             STRING,
    is_deleted             BOOLEAN,
    content                STRING,
    user_id                STRING,
    custom_channel         STRING,
    content_truncated_from BIGINT
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

CREATE TEMPORARY VIEW message_created AS
SELECT
  event_id, conversation_id, message_id, `snapshot`, organization_id, business_id,
  messaging_partner_raw AS messaging_partner,
  TO_TIMESTAMP_LTZ(detected_at, 6) AS detected_at,
  detected_at_ms,
  message.content_type_raw AS content_type,
  message.sender_type_raw  AS sender_type,
  message.sender_label     AS sender_label,
  message.status_raw       AS status,
  message.is_deleted       AS is_deleted,
  message.content          AS content,
  message.user_id          AS user_id,
  TO_TIMESTAMP_LTZ(message.`date`, 6) AS message_date,
  message.date_ms          AS message_date_ms
FROM message_created_all
WHERE event_type = 'MessageCreated';

CREATE TEMPORARY TABLE status_changed_all (
  event_type            STRING,
  event_id              STRING,
  conversation_id       BIGINT,
  message_id            BIGINT,
  detected_at           BIGINT,        -- timestamp-micros
  detected_at_ms        TIMESTAMP(3),  -- timestamp-millis
  `date`                BIGINT,        -- timestamp-micros
  date_ms               TIMESTAMP(3),  -- timestamp-millis
  previous_status_raw   STRING,
  status_raw            STRING,
  organization_id       BIGINT,
  business_id           STRING,
  messaging_partner_raw STRING
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

CREATE TEMPORARY VIEW status_changed AS
SELECT
  event_id, conversation_id, message_id, organization_id, business_id,
  messaging_partner_raw AS messaging_partner,
  TO_TIMESTAMP_LTZ(detected_at, 6) AS detected_at,
  detected_at_ms,
  previous_status_raw AS previous_status,
  status_raw          AS status,
  TO_TIMESTAMP_LTZ(`date`, 6) AS message_date,
  date_ms             AS message_date_ms
FROM status_changed_all
WHERE event_type = 'StatusChanged';

CREATE TEMPORARY TABLE message_deleted_all (
  event_type            STRING,
  event_id              STRING,
  conversation_id       BIGINT,
  message_id            BIGINT,
  detected_at           BIGINT,        -- timestamp-micros
  detected_at_ms        TIMESTAMP(3),  -- timestamp-millis
  reason_raw            STRING,
  organization_id       BIGINT,
  business_id           STRING,
  messaging_partner_raw STRING,
  message ROW<
    id                 BIGINT,
    `date`             BIGINT,        -- timestamp-micros
    date_ms            TIMESTAMP(3),  -- timestamp-millis
    status_raw         STRING
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

CREATE TEMPORARY VIEW message_deleted AS
SELECT
  event_id, conversation_id, message_id, organization_id, business_id,
  messaging_partner_raw AS messaging_partner,
  TO_TIMESTAMP_LTZ(detected_at, 6) AS detected_at,
  detected_at_ms,
  reason_raw AS reason,
  TO_TIMESTAMP_LTZ(message.`date`, 6) AS message_date,
  message.date_ms AS message_date_ms
FROM message_deleted_all
WHERE event_type = 'MessageDeleted';
