-- Each owner's number of tasks, kept beside the owner so the per-user quota is
-- checked and counted atomically under the owner row's lock (see src/store/sql.rs).
ALTER TABLE users ADD COLUMN task_count BIGINT NOT NULL DEFAULT 0 CHECK (task_count >= 0);
UPDATE users SET task_count = (SELECT COUNT(*) FROM tasks WHERE tasks.user_id = users.id);
