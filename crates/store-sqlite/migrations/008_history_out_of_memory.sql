-- History leaves memory: journals are read from the store through indexes, and start-up checks
-- the balances against a checkpoint of the log instead of the whole log.

-- No index of an account's journals: its keys fall all over the tree, and every commit wrote
-- each leaf it touched to the log again (batches of 1,000 lost 35-40% of their throughput, single
-- journals 15-23%). An account's journals are found newest first from the primary key.
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
-- The journals still moving (queued, sent_to_clearing, pending) at the checkpoint: start-up
-- loads these and those the log names after it, without an index over every journal's status
-- (one would cost every journal's every status change a write).
CREATE TABLE checkpoint_live (
    id BLOB PRIMARY KEY
) WITHOUT ROWID;

-- Idempotency keys by age: start-up loads the last day's; older ones are read by their key.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
