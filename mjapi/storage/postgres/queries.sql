-- Named queries of PostgresStore (loaded by mjapi.storage.queries). Parameters are positional;
-- for a new job and an account $1..$N follow codec.JOB_COLUMNS / codec.ACCOUNT_COLUMNS.
-- Text sorts use COLLATE "C" (byte order), as SQLite does, whatever the database locale.

-- name: lock_migrations
-- Session advisory lock: of several replicas starting together, one migrates at a time.
SELECT pg_advisory_lock(4157262418503129)

-- name: unlock_migrations
SELECT pg_advisory_unlock(4157262418503129)

-- name: create_migrations_table
-- Bootstraps migration bookkeeping; runs (under the lock) before any migration.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version  integer     NOT NULL PRIMARY KEY,
    name     text        NOT NULL,
    applied  timestamptz NOT NULL DEFAULT now()
)

-- name: applied_migrations
SELECT version, name FROM schema_migrations ORDER BY version

-- name: record_migration
INSERT INTO schema_migrations (version, name) VALUES ($1, $2)

-- name: insert_job
-- $1..$35 follow codec.JOB_COLUMNS. No row comes back when the jobid exists: the store raises
-- DuplicateKey.
INSERT INTO jobs (
    jobid, owner, verb, status, created, updated, channel, discord, max_jobs, prompt,
    server, reply_url, reply_ref, message_id, content, timestamp, progress, attachments,
    buttons, children, parent_job_id, button, error, error_details, nonce, interaction_id,
    job_hash, extra, embeds, seed_content, seed_value, blend_urls, blend_dimensions,
    describe_url, message_flags
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
    $11, $12, $13, $14, $15, $16, $17, $18,
    $19, $20, $21, $22, $23, $24, $25, $26,
    $27, $28, $29, $30, $31, $32, $33,
    $34, $35
)
ON CONFLICT (jobid) DO NOTHING
RETURNING jobid

-- name: get_job
SELECT * FROM jobs WHERE jobid = $1

-- name: save_job
-- A template: the store puts "column = $3, column = $4, ..." for the columns it writes (those
-- that changed since it last wrote the job, or all of them) in place of {assignments}, and
-- keeps each resulting statement. The state machine guard: the row changes only when its
-- current status is in $2 (domain.jobs.predecessors of the new status). Under READ COMMITTED a
-- concurrent writer's update is waited for and the condition re-checked on the new row, so
-- racing events stay consistent. No row back = refused or unknown jobid.
UPDATE jobs SET {assignments}
WHERE jobid = $1
  AND status = ANY($2::text[])
RETURNING jobid

-- name: add_child
-- Appends in the UPDATE itself, whatever the status: a completed parent still gets the jobs
-- its buttons spawn. Concurrent calls queue on the row lock and each appends to the row the
-- previous one committed (READ COMMITTED re-evaluates SET on the newest version), so none is
-- lost. $2 is one child (itself a JSON array): jsonb_build_array wraps it, since array || array
-- would splice its items in. No row back = unknown parent.
UPDATE jobs SET children = children || jsonb_build_array($2::jsonb)
WHERE jobid = $1
RETURNING jobid

-- name: unfinished_jobs
SELECT * FROM jobs
WHERE status = ANY($1::text[])
ORDER BY created, jobid COLLATE "C"

-- name: unfinished_jobs_of_owner
SELECT * FROM jobs
WHERE status = ANY($1::text[]) AND owner = $2
ORDER BY created, jobid COLLATE "C"

-- name: upsert_account
-- xmax is 0 only in a row version this statement inserted (not one it updated): that is
-- how one atomic statement reports "new" vs "replaced", even under concurrent calls.
INSERT INTO accounts (
    channel, owner, discord_token_enc, discord_user_id, max_jobs, created, updated, server,
    pending_mod_message, disabled_reason
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (channel) DO UPDATE SET
    owner = excluded.owner,
    discord_token_enc = excluded.discord_token_enc,
    discord_user_id = excluded.discord_user_id,
    max_jobs = excluded.max_jobs,
    created = excluded.created,
    updated = excluded.updated,
    server = excluded.server,
    pending_mod_message = excluded.pending_mod_message,
    disabled_reason = excluded.disabled_reason
RETURNING (xmax = 0) AS inserted

-- name: get_account
SELECT * FROM accounts WHERE channel = $1

-- name: list_accounts
SELECT * FROM accounts ORDER BY channel COLLATE "C"

-- name: list_accounts_of_owner
SELECT * FROM accounts WHERE owner = $1 ORDER BY channel COLLATE "C"

-- name: delete_account
DELETE FROM accounts WHERE channel = $1 RETURNING channel

-- name: insert_token
-- No row comes back when the hash exists: the store raises DuplicateKey.
INSERT INTO api_tokens (token_hash, user_id, created, label)
VALUES ($1, $2, $3, $4)
ON CONFLICT (token_hash) DO NOTHING
RETURNING token_hash

-- name: token_owner
SELECT user_id FROM api_tokens WHERE token_hash = $1

-- name: get_profile
SELECT * FROM profiles WHERE user_id = $1

-- name: upsert_profile
INSERT INTO profiles (user_id, created, name, reply_url)
VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id) DO UPDATE SET
    created = excluded.created,
    name = excluded.name,
    reply_url = excluded.reply_url

-- name: next_user_id
-- One UPDATE of the single counter row: concurrent calls queue on its row lock and each sees
-- the previous one's last_id, so ids strictly increase across replicas.
UPDATE user_id_counter
SET last_id = greatest(
    last_id,
    (SELECT max(user_id) FROM api_tokens),
    (SELECT max(owner) FROM accounts)
) + 1
WHERE singleton = 1
RETURNING last_id

-- name: insert_delivery
-- $1..$10 follow delivery_codec.DELIVERY_COLUMNS; seq is the identity's. Runs inside
-- save_job's transaction, after the job's UPDATE succeeded. No row back = the event id
-- exists: the store raises DuplicateKey and rolls back.
INSERT INTO deliveries (
    event_id, jobid, owner, url, event, body, created, next_attempt, expires, status
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (event_id) DO NOTHING
RETURNING seq

-- name: insert_attempt
-- $1..$6 follow delivery_codec.ATTEMPT_COLUMNS. No row back = this attempt number is already
-- recorded.
INSERT INTO delivery_attempts (event_id, number, at, duration_ms, status_code, error)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (event_id, number) DO NOTHING
RETURNING number

-- name: set_delivery_status
-- No row back = unknown event id.
UPDATE deliveries SET status = $2, next_attempt = $3
WHERE event_id = $1
RETURNING event_id

-- name: get_delivery
SELECT * FROM deliveries WHERE event_id = $1

-- name: pending_deliveries
-- The literal 'pending' matches the partial index deliveries_pending.
SELECT * FROM deliveries WHERE status = 'pending' ORDER BY seq

-- name: list_deliveries
-- $2: a status, or NULL for any.
SELECT * FROM deliveries
WHERE owner = $1 AND ($2::text IS NULL OR status = $2)
ORDER BY seq DESC
LIMIT $3

-- name: list_job_deliveries
-- Apart from list_deliveries so that a generic plan still uses deliveries_jobid_seq.
SELECT * FROM deliveries
WHERE jobid = $4 AND owner = $1 AND ($2::text IS NULL OR status = $2)
ORDER BY seq DESC
LIMIT $3

-- name: attempts_of_deliveries
-- The attempts of every delivery in $1, in one query.
SELECT * FROM delivery_attempts
WHERE event_id = ANY($1::text[])
ORDER BY event_id, number

-- name: replay_delivery
UPDATE deliveries SET status = 'pending', next_attempt = $2, expires = $3
WHERE event_id = $1
RETURNING *

-- name: prune_deliveries
-- Settled deliveries made before the cut and not attempted since (a replayed one stays listed
-- for the whole retention after its last attempt). Their attempts go with them (ON DELETE
-- CASCADE); the count of deliveries deleted comes back.
WITH pruned AS (
    DELETE FROM deliveries WHERE created < $1 AND status <> 'pending'
      AND NOT EXISTS (
          SELECT 1 FROM delivery_attempts AS a
          WHERE a.event_id = deliveries.event_id AND a.at >= $1
      )
    RETURNING 1
)
SELECT count(*) FROM pruned

-- name: drop_superseded
-- $1 the event ids of callbacks newer ones of their jobs made pointless (Outbox), deleted with
-- the attempt that superseded them. Only those still pending and never attempted: one a
-- receiver has seen stays.
DELETE FROM deliveries
WHERE event_id = ANY($1::text[]) AND status = 'pending'
  AND NOT EXISTS (SELECT 1 FROM delivery_attempts AS a WHERE a.event_id = deliveries.event_id)

-- name: get_webhook_secret
SELECT secret_enc FROM webhook_secrets WHERE user_id = $1

-- name: upsert_webhook_secret
-- created is the column default (now), for a new secret and a replaced one alike.
INSERT INTO webhook_secrets (user_id, secret_enc) VALUES ($1, $2)
ON CONFLICT (user_id) DO UPDATE SET
    secret_enc = excluded.secret_enc,
    created = excluded.created
