-- An event's ULID is its time (milliseconds) and its sequence number, so it is not stored.
ALTER TABLE events DROP COLUMN ulid;
