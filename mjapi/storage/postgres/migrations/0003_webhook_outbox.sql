-- mjapi schema, version 3 (PostgreSQL): the webhook outbox. A job change and the callback that
-- reports it are written in one transaction (JobStore.save_job), so a callback can be late but
-- never lost; each attempt to deliver it is kept, and each user has one signing secret.

CREATE TABLE deliveries (
    -- the idempotency key receivers dedupe on
    event_id      text        NOT NULL PRIMARY KEY,
    -- creation order, assigned by the database (never by a client: ALWAYS)
    seq           bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    jobid         text        NOT NULL,
    owner         bigint      NOT NULL,
    url           text        NOT NULL,
    -- the job status this callback reports
    event         text        NOT NULL,
    -- the JSON text sent, byte for byte: text, not jsonb, since the signature covers it
    body          text        NOT NULL,
    created       timestamptz NOT NULL,
    -- when the next attempt is due (meaningful while pending)
    next_attempt  timestamptz NOT NULL,
    -- no attempt after this moment
    expires       timestamptz NOT NULL,
    status        text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed'))
);

-- the worker's backlog, oldest first (a partial index: it holds only what is still due)
CREATE INDEX deliveries_pending ON deliveries (seq) WHERE status = 'pending';
-- a user's callbacks, and one job's, newest first
CREATE INDEX deliveries_owner_seq ON deliveries (owner, seq);
CREATE INDEX deliveries_jobid_seq ON deliveries (jobid, seq);
-- pruning of old finished callbacks
CREATE INDEX deliveries_created ON deliveries (created);

CREATE TABLE delivery_attempts (
    event_id     text        NOT NULL REFERENCES deliveries (event_id) ON DELETE CASCADE,
    -- 1 for the first attempt; a replay goes on counting
    number       integer     NOT NULL,
    at           timestamptz NOT NULL,
    duration_ms  integer     NOT NULL,
    -- the receiver's HTTP status; NULL when no answer came (refused, timeout, connection)
    status_code  integer,
    -- why it failed, when it did
    error        text,
    PRIMARY KEY (event_id, number)
);

-- The key each user's callbacks are signed with; no row until the first is needed
CREATE TABLE webhook_secrets (
    user_id     bigint      NOT NULL PRIMARY KEY,
    -- Fernet ciphertext of the secret (as accounts.discord_token_enc); the plain secret is
    -- never stored
    secret_enc  text        NOT NULL,
    -- when the current secret was set (a replacement resets it)
    created     timestamptz NOT NULL DEFAULT now()
);
