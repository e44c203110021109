-- Queries over the views of events.sql and messages_table.sql; each is one bounded job.

-- name: events_by_type
SELECT 'MessageCreated' AS event_type, COUNT(*) AS events FROM message_created
UNION ALL
SELECT 'StatusChanged', COUNT(*) FROM status_changed
UNION ALL
SELECT 'MessageDeleted', COUNT(*) FROM message_deleted;

-- name: created_per_business_partner
SELECT business_id, messaging_partner, COUNT(*) AS created
FROM message_created
GROUP BY business_id, messaging_partner;

-- name: message_created
SELECT message_id, conversation_id, business_id, messaging_partner, content_type, sender_type,
  sender_label, status, is_deleted, detected_at, detected_at_ms, message_date, message_date_ms
FROM message_created;

-- name: status_changed
SELECT message_id, previous_status, status, detected_at, detected_at_ms, message_date, message_date_ms
FROM status_changed;

-- name: message_deleted
SELECT message_id, reason, detected_at, detected_at_ms, message_date, message_date_ms
FROM message_deleted;

-- name: messages
SELECT id, message_id, conversation_id, business_id, messaging_partner, message_date,
  message_date_ms, content_type, sender_type, sender_label, status, updated_at, updated_at_ms
FROM messages;
