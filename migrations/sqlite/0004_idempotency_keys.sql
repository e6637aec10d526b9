-- Idempotency-Key (IETF httpapi draft): one row per (user, key). A request claims
-- the key (claim, claimed_at); its write records task_id in the write's own
-- statement, so a crash before the answer is stored cannot let a retry write again;
-- then the answer itself is stored and replayed to retries until expires_at.
CREATE TABLE idempotency_keys (
    user_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    claim       INTEGER NOT NULL,
    claimed_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    task_id     INTEGER NULL,
    status      INTEGER NULL,
    response    TEXT NULL,
    etag        TEXT NULL,
    location    TEXT NULL,
    PRIMARY KEY (user_id, key)
);

-- Serves the background pruning of expired keys.
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
