-- +goose Up
-- Notification delivery attempts (SPEC §15), projected from stream
-- NOTIFY_LOG: one row per attempt of a delivery. The stream sequence is
-- the key, so a replay or a redelivery inserts nothing twice; the table
-- is rebuilt from the stream after a wipe.
CREATE TABLE notification_deliveries (
    stream_seq   BIGINT PRIMARY KEY,
    delivery_id  TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    channel_name TEXT NOT NULL DEFAULT '',
    channel_type TEXT NOT NULL DEFAULT '',
    event        TEXT NOT NULL DEFAULT '',
    check_id     TEXT NOT NULL DEFAULT '',
    severity     TEXT NOT NULL DEFAULT '',
    count        INTEGER NOT NULL DEFAULT 0,
    attempt      INTEGER NOT NULL,
    status       TEXT NOT NULL,     -- delivered | failed | gave_up
    status_code  INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    replica      TEXT NOT NULL DEFAULT '',
    at           TEXT NOT NULL
);
-- The newest-first list and its two filters (GET /api/notifications).
CREATE INDEX notification_deliveries_at ON notification_deliveries (at, stream_seq);
CREATE INDEX notification_deliveries_channel ON notification_deliveries (channel_id, at, stream_seq);
CREATE INDEX notification_deliveries_status ON notification_deliveries (status, at, stream_seq);
CREATE INDEX notification_deliveries_delivery ON notification_deliveries (delivery_id, attempt);

-- +goose Down
DROP TABLE notification_deliveries;
