-- The ledger: the log (events, postings) and the queryable tables, written together.
-- Ids are 16-byte big-endian UUIDs; amounts are integers in their unit (cents, 1e-9 shares);
-- assets are 'cash:USD' or a symbol; books are an account id or 'bank' / 'custody'.

CREATE TABLE meta (
    last_seq      INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    business_date INTEGER            -- days since 1970-01-01; NULL until the first commit
);
INSERT INTO meta (last_seq, last_at, business_date) VALUES (0, 0, NULL);

-- Every change, in commit order. A journal's status history is its rows here.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    ulid        BLOB    NOT NULL,
    at          INTEGER NOT NULL,    -- microseconds since 1970
    kind        TEXT    NOT NULL,
    journal_id  BLOB,
    status_from TEXT,
    status_to   TEXT,
    detail      TEXT                 -- JSON: audit trail, ids, amounts
);
CREATE INDEX events_by_journal ON events (journal_id) WHERE journal_id IS NOT NULL;

-- Each row is a balanced pair of postings: `units` of `asset` leave `from_book` for `to_book`.
CREATE TABLE postings (
    seq       INTEGER NOT NULL,      -- the event that made it
    asset     TEXT    NOT NULL,
    units     INTEGER NOT NULL,
    from_book BLOB    NOT NULL,
    to_book   BLOB    NOT NULL
);

CREATE TABLE correspondents (
    id         BLOB PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    config     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
    id             BLOB PRIMARY KEY,
    correspondent  BLOB    NOT NULL,
    kind           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    account_number INTEGER NOT NULL UNIQUE,
    currency       TEXT    NOT NULL,
    blocks         INTEGER NOT NULL,
    limits         TEXT,
    created_at     INTEGER NOT NULL,
    profile        TEXT
) WITHOUT ROWID;

CREATE TABLE assets (
    symbol       TEXT PRIMARY KEY,
    id           BLOB    NOT NULL,
    name         TEXT    NOT NULL,
    exchange     TEXT    NOT NULL,
    class        TEXT    NOT NULL,
    fractionable INTEGER NOT NULL,
    price        INTEGER              -- 1e-9 USD
) WITHOUT ROWID;

-- Balances and positions: one row per (book, asset).
CREATE TABLE balances (
    book       BLOB    NOT NULL,
    asset      TEXT    NOT NULL,
    posted     INTEGER NOT NULL,
    held       INTEGER NOT NULL,
    cost_nanos TEXT,                 -- shares: cost basis in 1e-9 USD
    PRIMARY KEY (book, asset)
) WITHOUT ROWID;

CREATE TABLE journals (
    id            BLOB PRIMARY KEY,
    correspondent BLOB    NOT NULL,
    entry_type    TEXT    NOT NULL,
    from_account  BLOB    NOT NULL,
    to_account    BLOB    NOT NULL,
    status        TEXT    NOT NULL,
    asset         TEXT    NOT NULL,
    units         INTEGER NOT NULL,
    price         INTEGER,
    description   TEXT    NOT NULL,
    extra         TEXT,
    flow          TEXT    NOT NULL,
    hold          TEXT    NOT NULL,
    limit_counted INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    booked_on     INTEGER,
    ordinal       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE transfers (
    id            BLOB PRIMARY KEY,
    account       BLOB    NOT NULL,
    correspondent BLOB    NOT NULL,
    direction     TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    currency      TEXT    NOT NULL,
    amount        INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE overdrafts (
    account  BLOB    NOT NULL,
    currency TEXT    NOT NULL,
    units    INTEGER NOT NULL,
    PRIMARY KEY (account, currency)
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    correspondent BLOB    NOT NULL,
    key           TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    fingerprint   BLOB    NOT NULL,
    journals      BLOB    NOT NULL,  -- the ids it created, 16 bytes each
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (correspondent, key)
) WITHOUT ROWID;

CREATE TABLE daily_usage (
    account   BLOB    NOT NULL,
    limit_key TEXT    NOT NULL,
    used      INTEGER NOT NULL,
    PRIMARY KEY (account, limit_key)
) WITHOUT ROWID;
