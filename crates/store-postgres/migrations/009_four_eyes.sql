-- Four-eyes: requests on accounts, transfers, keys and prices waiting for a second operator
-- (journals keep theirs on the journal), and what each operator did alone today.
CREATE TABLE confirmations (
    fingerprint BYTEA NOT NULL PRIMARY KEY,  -- the action without its asker, 16 bytes
    body        TEXT  NOT NULL               -- JSON: action, subject, detail, worth, audit, at
);

CREATE TABLE done_alone (
    operator TEXT   NOT NULL PRIMARY KEY,
    worth    BIGINT NOT NULL                 -- US cents, this business day
);
