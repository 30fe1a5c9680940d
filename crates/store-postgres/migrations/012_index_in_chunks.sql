-- The index by account holds each run's journals of an account in chunks: one row holds up to
-- 512 ids, ascending, 16 bytes each, under the chunk's first id. A run of 65,536 journals is
-- then a few rows an account (for an account in most of them, a firm's, 128 rows of 8 KiB)
-- instead of two B-tree entries a journal, which cost the commit that wrote the run a search
-- of the index an entry. The runs are written again from the journals at the next start.
DROP TABLE account_journals;
DELETE FROM journal_runs;
CREATE TABLE account_chunks (
    run      int8  NOT NULL,
    account  uuid  NOT NULL,
    first    uuid  NOT NULL,
    journals bytea NOT NULL,
    PRIMARY KEY (run, account, first)
);
