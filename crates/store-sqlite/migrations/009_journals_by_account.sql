-- An index of journals by account, written in runs: every 65,536 journals (and at each start)
-- a commit enters every journal created since the last run under its `from` and its `to`
-- account, sorted, under a run number higher than any before. A run is appended at the end of
-- the index, one sequential write, where an index kept row by row would write a random leaf page
-- a journal into every commit. An account's journals are read newest first: those after the last
-- run (from the sequencer's memory), then each run newest first.
CREATE TABLE account_journals (
    run     INTEGER NOT NULL,
    account BLOB    NOT NULL,
    journal BLOB    NOT NULL,
    PRIMARY KEY (run, account, journal)
) WITHOUT ROWID;
-- Each run: its lowest and highest journal id (a run holds every journal between the two), and
-- how many journals it holds.
CREATE TABLE journal_runs (
    run      INTEGER PRIMARY KEY,
    low      BLOB    NOT NULL,
    high     BLOB    NOT NULL,
    journals INTEGER NOT NULL
);
