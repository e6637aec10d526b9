-- Every write advances a task's revision; its ETag is the revision (RFC 9110
-- conditional requests: If-Match, If-None-Match). Existing tasks start at 1.
ALTER TABLE tasks ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
