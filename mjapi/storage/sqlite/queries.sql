-- Named queries of SqliteStore (loaded by mjapi.storage.queries). Parameters are :named, but
-- numbered (?N) in the statements written with every job change (jobs, deliveries, attempts),
-- whose parameters are bound from tuples. Lists from Python (allowed statuses) arrive as JSON
-- arrays and are read with json_each.

-- name: create_migrations_table
-- Bootstraps migration bookkeeping; runs before any migration.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version  INTEGER NOT NULL PRIMARY KEY,
    name     TEXT    NOT NULL,
    applied  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) STRICT

-- name: applied_migrations
SELECT version, name FROM schema_migrations ORDER BY version

-- name: record_migration
INSERT INTO schema_migrations (version, name) VALUES (:version, :name)

-- name: insert_job
-- ?1..?35 follow codec.JOB_COLUMNS. No row comes back when the jobid exists: the store raises
-- DuplicateKey.
INSERT INTO jobs (
    jobid, owner, verb, status, created, updated, channel, discord, max_jobs, prompt,
    server, reply_url, reply_ref, message_id, content, timestamp, progress, attachments,
    buttons, children, parent_job_id, button, error, error_details, nonce, interaction_id,
    job_hash, extra, embeds, seed_content, seed_value, blend_urls, blend_dimensions,
    describe_url, message_flags
) VALUES (
    ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
    ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
    ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26,
    ?27, ?28, ?29, ?30, ?31, ?32, ?33,
    ?34, ?35
)
ON CONFLICT (jobid) DO NOTHING
RETURNING jobid

-- name: get_job
SELECT * FROM jobs WHERE jobid = :jobid

-- name: save_job
-- A template: the store puts "column = ?3, column = ?4, ..." for the columns it writes (those
-- that changed since it last wrote the job, or all of them) in place of {assignments}, and
-- keeps each resulting statement. The state machine guard: the row changes only when its
-- current status is one of ?2, a JSON array (domain.jobs.predecessors of the new status).
-- No row changed (rowcount 0) = refused or unknown jobid. The hot statements written with every
-- job change return no rows: the store reads rowcount, one sqlite3_step fewer (see
-- store._changed).
UPDATE jobs SET {assignments}
WHERE jobid = ?1
  AND status IN (SELECT value FROM json_each(?2))

-- name: save_jobs
-- save_job for many jobs at once (sqlite/together.py), a template: the store puts
-- "column = item.column3, ..." in place of {assignments} and one "(?, ?, ...)" per job in place
-- of {rows}, each holding save_job's parameters (jobid, allowed statuses as a JSON array, the
-- values), at most one per job, then rows of NULLs to fill a fixed size (they match no job).
-- rowcount = jobs changed; fewer than the rows = a change was
-- refused (or a jobid unknown), and the store undoes the statement and saves them one by one.
UPDATE jobs SET {assignments}
FROM (VALUES {rows}) AS item
WHERE jobs.jobid = item.column1
  AND jobs.status IN (SELECT value FROM json_each(item.column2))

-- name: add_child
-- Appends in the UPDATE itself (no read-modify-write), whatever the status: a completed
-- parent still gets the jobs its buttons spawn. json() makes :child an array element rather
-- than a string. No row back = unknown parent.
UPDATE jobs SET children = json_insert(children, '$[#]', json(:child))
WHERE jobid = :jobid
RETURNING jobid

-- name: unfinished_jobs
SELECT * FROM jobs
WHERE status IN (SELECT value FROM json_each(:statuses))
ORDER BY created, jobid

-- name: unfinished_jobs_of_owner
SELECT * FROM jobs
WHERE owner = :owner AND status IN (SELECT value FROM json_each(:statuses))
ORDER BY created, jobid

-- name: account_exists
SELECT 1 FROM accounts WHERE channel = :channel

-- name: upsert_account
INSERT INTO accounts (
    channel, owner, discord_token_enc, discord_user_id, max_jobs, created, updated, server,
    pending_mod_message, disabled_reason
) VALUES (
    :channel, :owner, :discord_token_enc, :discord_user_id, :max_jobs, :created, :updated,
    :server, :pending_mod_message, :disabled_reason
)
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

-- name: get_account
SELECT * FROM accounts WHERE channel = :channel

-- name: list_accounts
SELECT * FROM accounts ORDER BY channel

-- name: list_accounts_of_owner
SELECT * FROM accounts WHERE owner = :owner ORDER BY channel

-- name: delete_account
DELETE FROM accounts WHERE channel = :channel RETURNING channel

-- name: insert_token
-- No row comes back when the hash exists: the store raises DuplicateKey.
INSERT INTO api_tokens (token_hash, user_id, created, label)
VALUES (:token_hash, :user_id, :created, :label)
ON CONFLICT (token_hash) DO NOTHING
RETURNING token_hash

-- name: token_owner
SELECT user_id FROM api_tokens WHERE token_hash = :token_hash

-- name: get_profile
SELECT * FROM profiles WHERE user_id = :user_id

-- name: upsert_profile
INSERT INTO profiles (user_id, created, name, reply_url)
VALUES (:user_id, :created, :name, :reply_url)
ON CONFLICT (user_id) DO UPDATE SET
    created = excluded.created,
    name = excluded.name,
    reply_url = excluded.reply_url

-- name: next_user_id
-- One atomic UPDATE of the single counter row (writes are serialized), so ids strictly increase.
UPDATE user_id_counter
SET last_id = max(
    last_id,
    coalesce((SELECT max(user_id) FROM api_tokens), 0),
    coalesce((SELECT max(owner) FROM accounts), 0)
) + 1
WHERE singleton = 1
RETURNING last_id

-- name: insert_delivery
-- ?1..?10 follow delivery_codec.DELIVERY_COLUMNS. Runs inside save_job's transaction, after
-- the job's UPDATE succeeded. seq is left to the database. No row inserted (rowcount 0) = the
-- event id exists: the store raises DuplicateKey and rolls back.
INSERT INTO deliveries (
    event_id, jobid, owner, url, event, body, created, next_attempt, expires, status
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT (event_id) DO NOTHING

-- name: insert_deliveries
-- insert_delivery for many at once (sqlite/together.py): the store puts one "(?, ...)" per
-- delivery, in DELIVERY_COLUMNS order, in place of {rows}, and rows of NULLs after them to
-- fill a fixed size (skipped: no event id). rowcount = deliveries inserted; fewer = an event id
-- exists. (The WHERE also tells SQLite's parser that ON CONFLICT is no join constraint.)
INSERT INTO deliveries (
    event_id, jobid, owner, url, event, body, created, next_attempt, expires, status
)
SELECT * FROM (VALUES {rows}) WHERE column1 IS NOT NULL
ON CONFLICT (event_id) DO NOTHING

-- name: insert_attempt
-- ?1..?6 follow delivery_codec.ATTEMPT_COLUMNS. No row inserted (rowcount 0) = this attempt
-- number is already recorded.
INSERT INTO delivery_attempts (event_id, number, at, duration_ms, status_code, error)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (event_id, number) DO NOTHING

-- name: set_delivery_status
-- ?1 event id, ?2 status, ?3 next attempt. No row changed (rowcount 0) = unknown event id.
UPDATE deliveries SET status = ?2, next_attempt = ?3
WHERE event_id = ?1

-- name: set_delivery_statuses
-- ?1 a JSON array of [event id, status, next attempt], one per attempt recorded together
-- (sqlite/attempts.py). rowcount = deliveries changed; fewer than the array's length = an
-- unknown event id (or one twice), and the store records them one by one instead.
UPDATE deliveries SET status = item.value ->> 1, next_attempt = item.value ->> 2
FROM json_each(?1) AS item
WHERE deliveries.event_id = item.value ->> 0

-- name: insert_attempts
-- ?1 a JSON array of attempt rows in delivery_codec.ATTEMPT_COLUMNS order. rowcount = attempts
-- inserted (WHERE true: how SQLite tells INSERT ... SELECT from an ON CONFLICT clause).
INSERT INTO delivery_attempts (event_id, number, at, duration_ms, status_code, error)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5
FROM json_each(?1) WHERE true
ON CONFLICT (event_id, number) DO NOTHING

-- name: get_delivery
SELECT * FROM deliveries WHERE event_id = :event_id

-- name: pending_deliveries
-- The literal 'pending' matches the partial index deliveries_pending.
SELECT * FROM deliveries WHERE status = 'pending' ORDER BY seq

-- name: list_deliveries
SELECT * FROM deliveries
WHERE owner = :owner AND (:status IS NULL OR status = :status)
ORDER BY seq DESC
LIMIT :limit

-- name: list_job_deliveries
-- Apart from list_deliveries so that the planner can use deliveries_jobid_seq: a jobid is
-- known when the query is prepared, not only when it runs.
SELECT * FROM deliveries
WHERE jobid = :jobid AND owner = :owner AND (:status IS NULL OR status = :status)
ORDER BY seq DESC
LIMIT :limit

-- name: attempts_of_deliveries
-- The attempts of every delivery in :event_ids (a JSON array), in one query.
SELECT * FROM delivery_attempts
WHERE event_id IN (SELECT value FROM json_each(:event_ids))
ORDER BY event_id, number

-- name: replay_delivery
UPDATE deliveries SET status = 'pending', next_attempt = :next_attempt, expires = :expires
WHERE event_id = :event_id
RETURNING *

-- name: prune_deliveries
-- Settled deliveries made before the cut and not attempted since (a replayed one stays listed
-- for the whole retention after its last attempt). Their attempts go with them (ON DELETE
-- CASCADE). One row back per delivery deleted.
DELETE FROM deliveries WHERE created < :before AND status <> 'pending'
  AND NOT EXISTS (
      SELECT 1 FROM delivery_attempts AS a
      WHERE a.event_id = deliveries.event_id AND a.at >= :before
  )
RETURNING 1

-- name: drop_superseded
-- ?1 a JSON array of event ids whose callbacks newer ones of their jobs made pointless
-- (Outbox), deleted with the attempt that superseded them (sqlite/attempts.py). Only those still
-- pending and never attempted: one a receiver has seen stays.
DELETE FROM deliveries
WHERE event_id IN (SELECT value FROM json_each(?1)) AND status = 'pending'
  AND NOT EXISTS (SELECT 1 FROM delivery_attempts AS a WHERE a.event_id = deliveries.event_id)

-- name: get_webhook_secret
SELECT secret_enc FROM webhook_secrets WHERE user_id = :user_id

-- name: upsert_webhook_secret
-- created is the column default (now), for a new secret and a replaced one alike.
INSERT INTO webhook_secrets (user_id, secret_enc) VALUES (:user_id, :secret_enc)
ON CONFLICT (user_id) DO UPDATE SET
    secret_enc = excluded.secret_enc,
    created = excluded.created
