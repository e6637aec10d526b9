-- A create with an Idempotency-Key in one call, so one round trip and one commit, as an
-- unkeyed create is: claim the key, count the task against the owner's quota, insert it
-- (its change-log row comes from the row trigger, in the same transaction) and record the
-- task on the key. It was three statements in three commits (claim; create gated on the
-- claim; store the answer): 0.41x the unkeyed rate. A function because the key must be
-- claimed before the task is inserted and must name the task after: data-modifying CTEs of
-- one statement cannot update a row a sibling inserted, and one connection serves many
-- requests at once (pipelined), so a multi-statement transaction cannot hold it.
--
-- The task goes first and the key is claimed naming it, one write to the key instead of
-- a claim and then an update: a key already taken (a retry, or a request still running)
-- is rare, and then the call raises SQLSTATE TD409, which undoes the task with the rest;
-- the caller reads the key instead, as a claim that failed would.
--
-- outcome: 'created' (the task's columns follow) or 'full' (the key is claimed and nothing
-- written: the quota is full; the caller stores that answer under the claim). Takeover
-- rules are CLAIM_KEY's (src/store/idempotency.rs).
CREATE FUNCTION create_task_keyed(
    p_user TEXT, p_email TEXT, p_now TIMESTAMPTZ, p_max_tasks BIGINT,
    p_title TEXT, p_description TEXT, p_completed BOOLEAN,
    p_key TEXT, p_fingerprint TEXT, p_claim BIGINT, p_expires TIMESTAMPTZ, p_stale_before TIMESTAMPTZ)
RETURNS TABLE (id BIGINT, user_id TEXT, title TEXT, description TEXT, completed BOOLEAN,
               created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, revision BIGINT, outcome TEXT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    made tasks%ROWTYPE;
BEGIN
    WITH owner AS (
        INSERT INTO users (id, email, created_at, task_count) VALUES (p_user, p_email, p_now, 1)
        ON CONFLICT (id) DO UPDATE SET task_count = users.task_count + 1,
            email = COALESCE(excluded.email, users.email)
        WHERE users.task_count < p_max_tasks RETURNING users.id)
    INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at)
    SELECT owner.id, p_title, p_description, p_completed, p_now, p_now FROM owner
    RETURNING * INTO made;
    -- The key is claimed with the task it made, or with none when the quota is full.
    INSERT INTO idempotency_keys (user_id, key, fingerprint, claim, claimed_at, expires_at, task_id)
    VALUES (p_user, p_key, p_fingerprint, p_claim, p_now, p_expires, made.id)
    ON CONFLICT (user_id, key) DO UPDATE SET fingerprint = excluded.fingerprint,
        claim = excluded.claim, claimed_at = excluded.claimed_at, expires_at = excluded.expires_at,
        task_id = excluded.task_id, status = NULL, response = NULL, etag = NULL, location = NULL
    WHERE idempotency_keys.expires_at < p_now OR (idempotency_keys.status IS NULL
        AND idempotency_keys.task_id IS NULL AND idempotency_keys.claimed_at < p_stale_before
        AND idempotency_keys.fingerprint = excluded.fingerprint);
    IF NOT FOUND THEN
        -- Taken (a retry, or a request still running): the task, if one was
        -- made, goes with the whole call. The caller reads the key instead.
        RAISE EXCEPTION 'idempotency key taken' USING ERRCODE = 'TD409';
    END IF;
    -- The output columns are this function's variables: set, then returned as a row.
    id := made.id; user_id := made.user_id; title := made.title;
    description := made.description; completed := made.completed;
    created_at := made.created_at; updated_at := made.updated_at; revision := made.revision;
    outcome := CASE WHEN made.id IS NULL THEN 'full' ELSE 'created' END;
    RETURN NEXT;
END
$$;
