-- Operator keys carry the name of the person they are for: the audit trail shows it, and
-- four-eyes takes two different names. A correspondent key's name is a label.
ALTER TABLE api_keys ADD COLUMN name TEXT;
