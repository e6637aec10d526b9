-- Realtime sync (GET /changes, GET /events): every write of a task appends to its
-- owner's change log in the write's own transaction. Triggers do it, so no write
-- path can forget it and no crash can separate a change from its event.
-- The owner's next number is one past their latest: one writer, so numbers commit
-- in order (retention always keeps each owner's latest change).

-- The task as the change left it (as it was, for a delete).
CREATE TABLE task_changes (
    user_id     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    task_id     INTEGER NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NULL,
    completed   BOOLEAN NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    -- Unix seconds, the same on both engines: what retention is measured by.
    logged_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;

-- Serves the background pruning of old changes.
CREATE INDEX task_changes_logged ON task_changes (logged_at);

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

-- Tickets for EventSource, which cannot send an Authorization header: a short-lived
-- random value (only its SHA-256 kept) that opens streams for one user.
CREATE TABLE stream_tickets (
    ticket_hash  TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL,
    -- Unix seconds: until when it opens streams, and when those streams end
    -- (the expiry of the token that asked for it).
    expires_at   INTEGER NOT NULL,
    stream_until INTEGER NOT NULL
);

CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);
