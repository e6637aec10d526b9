-- A statement that changes many of one owner's tasks (mark all, clear completed) logs
-- its changes itself, in one go, instead of through the row trigger. The row trigger
-- bumps the owner's users.change_seq once per changed task: many bumps of one row inside
-- one transaction each walk past all the row's earlier versions, so 1,000 tasks took
-- ~35 ms and 10,000 a whole second. A statement-level trigger with transition tables
-- fixed that but cost single-row writes 8-12% (bench/ab.py), so the row trigger stays
-- for them: it steps aside only for a statement that says, in its own transaction
-- (set_config(..., true)), that it writes the log itself. Such a statement numbers its
-- rows from the owner's counter under the owner row's lock, as the trigger does: the
-- numbers stay contiguous per owner and committed in order.
CREATE OR REPLACE FUNCTION log_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed tasks%ROWTYPE;
    numbered BIGINT;
BEGIN
    IF current_setting('todo.change_log', true) = 'by_statement' THEN
        RETURN NULL;
    END IF;
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
