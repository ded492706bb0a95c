-- mjapi schema, version 3 (SQLite): the webhook outbox. A job change and the callback that
-- reports it are written in one transaction (JobStore.save_job), so a callback can be late but
-- never lost; each attempt to deliver it is kept, and each user has one signing secret.

CREATE TABLE deliveries (
    -- the idempotency key receivers dedupe on, and the key every lookup and attempt uses.
    -- UNIQUE rather than PRIMARY KEY: that role is seq's here (see below).
    event_id      TEXT    NOT NULL UNIQUE,
    -- creation order, assigned by the database: the rowid itself (only the INTEGER PRIMARY
    -- KEY column can be), and AUTOINCREMENT keeps the seq of a pruned newest delivery from
    -- being handed out again, so seq only ever grows
    seq           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    jobid         TEXT    NOT NULL,
    owner         INTEGER NOT NULL,
    url           TEXT    NOT NULL,
    -- the job status this callback reports
    event         TEXT    NOT NULL,
    -- the JSON text sent, byte for byte: the signature covers it, so it is never re-encoded
    body          TEXT    NOT NULL,
    created       TEXT    NOT NULL,
    -- when the next attempt is due (meaningful while pending)
    next_attempt  TEXT    NOT NULL,
    -- no attempt after this moment
    expires       TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed'))
) STRICT;

-- the worker's backlog, oldest first (a partial index: it holds only what is still due)
CREATE INDEX deliveries_pending ON deliveries (seq) WHERE status = 'pending';
-- a user's callbacks, and one job's, newest first
CREATE INDEX deliveries_owner_seq ON deliveries (owner, seq);
CREATE INDEX deliveries_jobid_seq ON deliveries (jobid, seq);
-- pruning of old finished callbacks
CREATE INDEX deliveries_created ON deliveries (created);

CREATE TABLE delivery_attempts (
    event_id     TEXT    NOT NULL REFERENCES deliveries (event_id) ON DELETE CASCADE,
    -- 1 for the first attempt; a replay goes on counting
    number       INTEGER NOT NULL,
    at           TEXT    NOT NULL,
    duration_ms  INTEGER NOT NULL,
    -- the receiver's HTTP status; NULL when no answer came (refused, timeout, connection)
    status_code  INTEGER,
    -- why it failed, when it did
    error        TEXT,
    PRIMARY KEY (event_id, number)
) STRICT;

-- The key each user's callbacks are signed with; no row until the first is needed
CREATE TABLE webhook_secrets (
    user_id     INTEGER NOT NULL PRIMARY KEY,
    -- Fernet ciphertext of the secret (as accounts.discord_token_enc); the plain secret is
    -- never stored
    secret_enc  TEXT    NOT NULL,
    -- when the current secret was set (a replacement resets it), in the fixed-width form
    created     TEXT    NOT NULL
                DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00')
) STRICT;
