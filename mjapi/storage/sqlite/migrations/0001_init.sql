-- mjapi schema, version 1 (SQLite). Applied in one transaction by SqliteStore.open().
-- STRICT tables make SQLite refuse a value of the wrong type instead of storing it silently.
-- Times are fixed-width UTC ISO-8601 text ("2025-01-01T00:00:00.000000+00:00"), so text order
-- is time order; JSON columns hold arrays/objects written by mjapi.storage.codec.

CREATE TABLE jobs (
    jobid           TEXT    NOT NULL PRIMARY KEY,
    owner           INTEGER NOT NULL,
    verb            TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN (
                        'created', 'started', 'progress',
                        'completed', 'failed', 'moderated', 'cancelled')),
    created         TEXT    NOT NULL,
    updated         TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    discord         TEXT    NOT NULL,
    max_jobs        INTEGER NOT NULL,
    prompt          TEXT,
    server          TEXT,
    reply_url       TEXT,
    reply_ref       TEXT,
    message_id      TEXT,
    content         TEXT,
    timestamp       TEXT,
    progress        INTEGER,
    attachments     TEXT    NOT NULL DEFAULT '[]',
    buttons         TEXT    NOT NULL DEFAULT '[]',
    children        TEXT    NOT NULL DEFAULT '[]',
    parent_job_id   TEXT,
    button          TEXT,
    error           TEXT,
    error_details   TEXT,
    nonce           TEXT,
    interaction_id  TEXT,
    job_hash        TEXT,
    extra           TEXT    NOT NULL DEFAULT '{}'
) STRICT;

-- unfinished jobs (recovery, watchdog) and an account's executing jobs
CREATE INDEX jobs_status_created ON jobs (status, created);
CREATE INDEX jobs_owner_created ON jobs (owner, created);
CREATE INDEX jobs_channel_status ON jobs (channel, status);
CREATE INDEX jobs_updated ON jobs (updated);
-- correlation of Discord events to jobs: nonce, then message id, then Midjourney's job hash
CREATE INDEX jobs_nonce ON jobs (nonce) WHERE nonce IS NOT NULL;
CREATE INDEX jobs_message_id ON jobs (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX jobs_job_hash ON jobs (job_hash) WHERE job_hash IS NOT NULL;

CREATE TABLE accounts (
    channel              TEXT    NOT NULL PRIMARY KEY,
    owner                INTEGER NOT NULL,
    -- Fernet ciphertext of the Discord token; the plain token is never stored
    discord_token_enc    TEXT    NOT NULL,
    discord_user_id      TEXT    NOT NULL,
    max_jobs             INTEGER NOT NULL,
    created              TEXT    NOT NULL,
    updated              TEXT    NOT NULL,
    server               TEXT,
    pending_mod_message  TEXT,
    disabled_reason      TEXT
) STRICT;

CREATE INDEX accounts_owner ON accounts (owner, channel);

CREATE TABLE api_tokens (
    token_hash  TEXT    NOT NULL PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    created     TEXT    NOT NULL,
    label       TEXT
) STRICT;

CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- The last user id next_user_id handed out (one row). The next id also exceeds every user id
-- already present in api_tokens and accounts, so an id chosen by hand is never handed out again.
CREATE TABLE user_id_counter (
    singleton  INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    last_id    INTEGER NOT NULL
) STRICT;

INSERT INTO user_id_counter (singleton, last_id) VALUES (1, 0);
