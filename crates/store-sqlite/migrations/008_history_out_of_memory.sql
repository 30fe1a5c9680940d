-- History leaves memory: journals are read from the store through indexes, and start-up checks
-- the balances against a checkpoint of the log instead of the whole log.

-- The journals that can still move without an operator (loaded at start-up); the text of the
-- condition is `sql::LIVE_JOURNALS`.
CREATE INDEX journals_live ON journals (status) WHERE status IN ('queued', 'sent_to_clearing', 'pending');
-- An account's journals, either side.
CREATE INDEX journals_from ON journals (from_account);
CREATE INDEX journals_to ON journals (to_account);
-- Booked journals by when they last changed: the activities they leave.
CREATE INDEX journals_booked ON journals (updated_at) WHERE booked_on IS NOT NULL;

-- The sum of the log's postings per book and asset up to `checkpoint_meta.seq`, kept from the
-- log itself (never from the balances), and how many journals the log had created by then.
CREATE TABLE checkpoint (
    book  BLOB    NOT NULL,
    asset TEXT    NOT NULL,
    units INTEGER NOT NULL,
    PRIMARY KEY (book, asset)
) WITHOUT ROWID;
CREATE TABLE checkpoint_meta (
    seq      INTEGER NOT NULL,
    journals INTEGER NOT NULL
);
INSERT INTO checkpoint_meta (seq, journals) VALUES (0, 0);

-- Idempotency keys by age: start-up loads the last day's; older ones are read by their key.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
