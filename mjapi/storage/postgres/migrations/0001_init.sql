-- mjapi schema, version 1 (PostgreSQL). Applied in one transaction by PostgresStore.open().
-- Tables go to the first schema of the connection's search_path (pick one with
-- ?search_path=name in the DSN). JSON columns hold arrays/objects written by
-- mjapi.storage.codec.

CREATE TABLE jobs (
    jobid           text        NOT NULL PRIMARY KEY,
    owner           bigint      NOT NULL,
    verb            text        NOT NULL,
    status          text        NOT NULL CHECK (status IN (
                        'created', 'started', 'progress',
                        'completed', 'failed', 'moderated', 'cancelled')),
    created         timestamptz NOT NULL,
    updated         timestamptz NOT NULL,
    channel         text        NOT NULL,
    discord         text        NOT NULL,
    max_jobs        integer     NOT NULL,
    prompt          text,
    server          text,
    reply_url       text,
    reply_ref       text,
    message_id      text,
    content         text,
    timestamp       text,
    progress        integer,
    attachments     jsonb       NOT NULL DEFAULT '[]',
    buttons         jsonb       NOT NULL DEFAULT '[]',
    children        jsonb       NOT NULL DEFAULT '[]',
    parent_job_id   text,
    button          text,
    error           text,
    error_details   text,
    nonce           text,
    interaction_id  text,
    job_hash        text,
    extra           jsonb       NOT NULL DEFAULT '{}'
);

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
    channel              text        NOT NULL PRIMARY KEY,
    owner                bigint      NOT NULL,
    -- Fernet ciphertext of the Discord token; the plain token is never stored
    discord_token_enc    text        NOT NULL,
    discord_user_id      text        NOT NULL,
    max_jobs             integer     NOT NULL,
    created              timestamptz NOT NULL,
    updated              timestamptz NOT NULL,
    server               text,
    pending_mod_message  text,
    disabled_reason      text
);

CREATE INDEX accounts_owner ON accounts (owner, channel);

CREATE TABLE api_tokens (
    token_hash  text        NOT NULL PRIMARY KEY,
    user_id     bigint      NOT NULL,
    created     timestamptz NOT NULL,
    label       text
);

CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- The last user id next_user_id handed out (one row). The next id also exceeds every user id
-- already present in api_tokens and accounts, so an id chosen by hand is never handed out again.
CREATE TABLE user_id_counter (
    singleton  integer NOT NULL PRIMARY KEY CHECK (singleton = 1),
    last_id    bigint  NOT NULL
);

INSERT INTO user_id_counter (singleton, last_id) VALUES (1, 0);
