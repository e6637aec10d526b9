-- Owners of tasks, upserted from a verified token's `sub` the first time they write.
-- Named `users` (plural) so it never collides with Better Auth's own `user` table.
CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    email      TEXT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE tasks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description TEXT NULL CHECK (char_length(description) <= 1000),
    completed   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Serves every owner-scoped lookup and the default listing order.
CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
