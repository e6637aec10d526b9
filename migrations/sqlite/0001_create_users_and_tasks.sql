-- Owners of tasks, upserted from a verified token's `sub` the first time they write.
-- Named `users` (plural) so it never collides with Better Auth's own `user` table.
CREATE TABLE users (
    id         TEXT PRIMARY KEY NOT NULL,
    email      TEXT NULL,
    created_at TEXT NOT NULL
);

-- AUTOINCREMENT: an id is never reused after a delete, so a stale client link can
-- never start pointing at a newer task.
CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description TEXT NULL CHECK (length(description) <= 1000),
    completed   BOOLEAN NOT NULL DEFAULT FALSE CHECK (completed IN (0, 1)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Serves every owner-scoped lookup and the default listing order.
CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
