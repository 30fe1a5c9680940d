-- Narrower rows. Ids become `uuid` (16 bytes, no length header; psql shows them as text, and
-- `WHERE id = '…'` works). An event's ULID is its time (milliseconds) and sequence number, so it
-- is not stored. The two tables that grow with every journal are rebuilt with their fixed-width
-- columns first, so no row pays alignment padding. The log is appended in `seq` order and read
-- by ranges of it, so a BRIN index (a few pages for millions of rows) serves it instead of a
-- B-tree (about 23 bytes an event); the writer refuses a commit that does not continue the log
-- where `meta.last_seq` ends, so a sequence number cannot be written twice. Journal ids are
-- time-ordered (UUIDv7), so their indexes grow at their right edge and leaf pages are filled
-- full, not to the default 90%.
DROP VIEW postings;

CREATE TABLE events_narrow (
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,    -- microseconds since 1970
    units       BIGINT,
    journal_id  UUID,
    kind        TEXT   NOT NULL,
    status_from TEXT,
    status_to   TEXT,
    asset       TEXT,
    from_book   BYTEA,
    to_book     BYTEA,
    detail      TEXT                -- JSON: audit trail, ids, amounts
);
INSERT INTO events_narrow
    SELECT seq, at, units, encode(journal_id, 'hex')::uuid, kind, status_from, status_to, asset, from_book, to_book, detail
    FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_narrow RENAME TO events;
CREATE INDEX events_by_seq ON events USING brin (seq);
CREATE INDEX events_by_journal ON events (journal_id) WITH (fillfactor = 100) WHERE journal_id IS NOT NULL;
CREATE VIEW postings AS SELECT seq, asset, units, from_book, to_book FROM events WHERE units IS NOT NULL;

CREATE TABLE journals_narrow (
    id            UUID   PRIMARY KEY,
    units         BIGINT NOT NULL,
    limit_counted BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    ordinal       BIGINT NOT NULL,
    price         BIGINT,
    booked_on     BIGINT,
    correspondent UUID   NOT NULL,
    from_account  UUID   NOT NULL,
    to_account    UUID   NOT NULL,
    entry_type    TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    asset         TEXT   NOT NULL,
    flow          TEXT   NOT NULL,
    hold          TEXT   NOT NULL,
    description   TEXT   NOT NULL,
    extra         TEXT
);
INSERT INTO journals_narrow
    SELECT encode(id, 'hex')::uuid, units, limit_counted, created_at, updated_at, ordinal, price, booked_on,
           encode(correspondent, 'hex')::uuid, encode(from_account, 'hex')::uuid, encode(to_account, 'hex')::uuid,
           entry_type, status, asset, flow, hold, description, extra
    FROM journals ORDER BY ordinal;
DROP TABLE journals;
ALTER TABLE journals_narrow RENAME TO journals;
ALTER INDEX journals_narrow_pkey RENAME TO journals_pkey;
ALTER INDEX journals_pkey SET (fillfactor = 100);

ALTER TABLE correspondents ALTER COLUMN id TYPE uuid USING encode(id, 'hex')::uuid;
ALTER TABLE accounts ALTER COLUMN id TYPE uuid USING encode(id, 'hex')::uuid,
                     ALTER COLUMN correspondent TYPE uuid USING encode(correspondent, 'hex')::uuid;
ALTER TABLE assets ALTER COLUMN id TYPE uuid USING encode(id, 'hex')::uuid;
ALTER TABLE transfers ALTER COLUMN id TYPE uuid USING encode(id, 'hex')::uuid,
                      ALTER COLUMN account TYPE uuid USING encode(account, 'hex')::uuid,
                      ALTER COLUMN correspondent TYPE uuid USING encode(correspondent, 'hex')::uuid;
ALTER TABLE overdrafts ALTER COLUMN account TYPE uuid USING encode(account, 'hex')::uuid;
ALTER TABLE idempotency_keys ALTER COLUMN correspondent TYPE uuid USING encode(correspondent, 'hex')::uuid;
ALTER TABLE api_keys ALTER COLUMN correspondent TYPE uuid USING encode(correspondent, 'hex')::uuid;
ALTER TABLE daily_usage ALTER COLUMN account TYPE uuid USING encode(account, 'hex')::uuid;
