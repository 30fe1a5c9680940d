-- Postings move into the log: an event's balanced pair of postings (it has at most one) is in
-- its own row, one row fewer per booked journal. `postings` stays readable, as a view.
ALTER TABLE events ADD COLUMN asset TEXT;
ALTER TABLE events ADD COLUMN units INTEGER;
ALTER TABLE events ADD COLUMN from_book BLOB;
ALTER TABLE events ADD COLUMN to_book BLOB;
UPDATE events SET (asset, units, from_book, to_book) =
    (SELECT p.asset, p.units, p.from_book, p.to_book FROM postings p WHERE p.seq = events.seq)
    WHERE seq IN (SELECT seq FROM postings);
DROP TABLE postings;
CREATE VIEW postings AS SELECT seq, asset, units, from_book, to_book FROM events WHERE units IS NOT NULL;
