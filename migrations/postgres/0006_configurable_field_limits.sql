-- Field limits are settings now (MAX_TITLE_CHARS, MAX_DESCRIPTION_CHARS), checked by the
-- server with messages that name them; the database keeps only the ceiling either setting
-- may be raised to. NOT VALID: every existing row passed the stricter checks dropped here.
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_title_check;
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_description_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 10000) NOT VALID;
ALTER TABLE tasks ADD CONSTRAINT tasks_description_length CHECK (char_length(description) <= 10000) NOT VALID;
