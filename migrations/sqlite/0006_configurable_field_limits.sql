-- Field limits are settings now (MAX_TITLE_CHARS, MAX_DESCRIPTION_CHARS), checked by the
-- server with messages that name them; the database keeps only the ceiling either setting
-- may be raised to. SQLite cannot alter a CHECK, so the table is rebuilt (same columns,
-- ids, AUTOINCREMENT high-water mark, index and change-log triggers).
CREATE TABLE tasks_v6 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 10000),
    description TEXT NULL CHECK (length(description) <= 10000),
    completed   BOOLEAN NOT NULL DEFAULT FALSE CHECK (completed IN (0, 1)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 1
);

INSERT INTO tasks_v6 (id, user_id, title, description, completed, created_at, updated_at, revision)
SELECT id, user_id, title, description, completed, created_at, updated_at, revision FROM tasks;

-- So that no deleted task's id is ever handed out again.
DELETE FROM sqlite_sequence WHERE name = 'tasks_v6';
INSERT INTO sqlite_sequence (name, seq) SELECT 'tasks_v6', seq FROM sqlite_sequence WHERE name = 'tasks';

-- Triggers do not fire for a DROP TABLE; the table's own triggers and index go with it.
DROP TABLE tasks;
ALTER TABLE tasks_v6 RENAME TO tasks;

CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);

CREATE TRIGGER tasks_log_created AFTER INSERT ON tasks BEGIN
    INSERT INTO task_changes
    SELECT NEW.user_id, COALESCE((SELECT MAX(seq) FROM task_changes WHERE user_id = NEW.user_id), 0) + 1, 'created', NEW.id, NEW.title, NEW.description, NEW.completed,
           NEW.created_at, NEW.updated_at, NEW.revision, CAST(strftime('%s', 'now') AS INTEGER);
END;

CREATE TRIGGER tasks_log_updated AFTER UPDATE ON tasks BEGIN
    INSERT INTO task_changes
    SELECT NEW.user_id, COALESCE((SELECT MAX(seq) FROM task_changes WHERE user_id = NEW.user_id), 0) + 1, 'updated', NEW.id, NEW.title, NEW.description, NEW.completed,
           NEW.created_at, NEW.updated_at, NEW.revision, CAST(strftime('%s', 'now') AS INTEGER);
END;

CREATE TRIGGER tasks_log_deleted AFTER DELETE ON tasks BEGIN
    INSERT INTO task_changes
    SELECT OLD.user_id, COALESCE((SELECT MAX(seq) FROM task_changes WHERE user_id = OLD.user_id), 0) + 1, 'deleted', OLD.id, OLD.title, OLD.description, OLD.completed,
           OLD.created_at, OLD.updated_at, OLD.revision, CAST(strftime('%s', 'now') AS INTEGER);
END;
