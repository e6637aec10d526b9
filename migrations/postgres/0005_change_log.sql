-- Realtime sync (GET /changes, GET /events): every write of a task appends to its
-- owner's change log in the write's own transaction. A trigger does it, so no write
-- path can forget it and no crash can separate a change from its event.
-- users.change_seq is the owner's last number; bumping it takes the owner row's lock,
-- so one owner's changes commit in the order of their numbers (a reader that sees
-- number N has every number below it too).
ALTER TABLE users ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;

-- The task as the change left it (as it was, for a delete).
CREATE TABLE task_changes (
    user_id     TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    task_id     BIGINT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NULL,
    completed   BOOLEAN NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    revision    BIGINT NOT NULL,
    -- Unix seconds, the same on both engines: what retention is measured by.
    logged_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);

-- Serves the background pruning of old changes.
CREATE INDEX task_changes_logged ON task_changes (logged_at);

CREATE FUNCTION log_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed tasks%ROWTYPE;
    numbered BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
    UPDATE users SET change_seq = change_seq + 1 WHERE id = changed.user_id
        RETURNING change_seq INTO numbered;
    INSERT INTO task_changes (user_id, seq, kind, task_id, title, description, completed,
                              created_at, updated_at, revision, logged_at)
    VALUES (changed.user_id, numbered,
            CASE TG_OP WHEN 'INSERT' THEN 'created' WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END,
            changed.id, changed.title, changed.description, changed.completed,
            changed.created_at, changed.updated_at, changed.revision,
            extract(epoch FROM now())::BIGINT);
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_change_log AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION log_task_change();

-- Tickets for EventSource, which cannot send an Authorization header: a short-lived
-- random value (only its SHA-256 kept) that opens streams for one user. Kept in the
-- database so any instance behind a load balancer accepts a ticket another issued.
CREATE TABLE stream_tickets (
    ticket_hash  TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    -- Unix seconds: until when it opens streams, and when those streams end
    -- (the expiry of the token that asked for it).
    expires_at   BIGINT NOT NULL,
    stream_until BIGINT NOT NULL
);

CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);
