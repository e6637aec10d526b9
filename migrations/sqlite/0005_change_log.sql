-- Realtime sync (GET /changes, GET /events): every write of a task appends to its
-- owner's change log in the write's own transaction. Triggers do it, so no write
-- path can forget it and no crash can separate a change from its event.
-- users.change_seq is the owner's last number (one writer: numbers commit in order).
ALTER TABLE users ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;

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
);

-- Serves the background pruning of old changes.
CREATE INDEX task_changes_logged ON task_changes (logged_at);

CREATE TRIGGER tasks_log_created AFTER INSERT ON tasks BEGIN
    UPDATE users SET change_seq = change_seq + 1 WHERE id = NEW.user_id;
    INSERT INTO task_changes
    SELECT NEW.user_id, change_seq, 'created', NEW.id, NEW.title, NEW.description, NEW.completed,
           NEW.created_at, NEW.updated_at, NEW.revision, CAST(strftime('%s', 'now') AS INTEGER)
    FROM users WHERE id = NEW.user_id;
END;

CREATE TRIGGER tasks_log_updated AFTER UPDATE ON tasks BEGIN
    UPDATE users SET change_seq = change_seq + 1 WHERE id = NEW.user_id;
    INSERT INTO task_changes
    SELECT NEW.user_id, change_seq, 'updated', NEW.id, NEW.title, NEW.description, NEW.completed,
           NEW.created_at, NEW.updated_at, NEW.revision, CAST(strftime('%s', 'now') AS INTEGER)
    FROM users WHERE id = NEW.user_id;
END;

CREATE TRIGGER tasks_log_deleted AFTER DELETE ON tasks BEGIN
    UPDATE users SET change_seq = change_seq + 1 WHERE id = OLD.user_id;
    INSERT INTO task_changes
    SELECT OLD.user_id, change_seq, 'deleted', OLD.id, OLD.title, OLD.description, OLD.completed,
           OLD.created_at, OLD.updated_at, OLD.revision, CAST(strftime('%s', 'now') AS INTEGER)
    FROM users WHERE id = OLD.user_id;
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
