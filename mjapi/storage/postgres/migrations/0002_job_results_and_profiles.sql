-- mjapi schema, version 2 (PostgreSQL): what a job's result carries beyond version 1 (Discord
-- embeds and message flags, the seed, blend and describe inputs) and per-user profiles.
-- Every new job column has a default or allows NULL, so rows written by version 1 stay valid:
-- they read back with no embeds, no seed, no blend inputs and message flags 0. Constant
-- defaults: adding the columns rewrites no row.

ALTER TABLE jobs
    -- Discord's embed objects: json, not jsonb, so that they come back as Discord sent them
    -- (key order kept, and "\u0000", which jsonb refuses, accepted)
    ADD COLUMN embeds json NOT NULL DEFAULT '[]',
    -- the seed Midjourney reported: both columns set, or both NULL (no seed yet)
    ADD COLUMN seed_content text,
    ADD COLUMN seed_value bigint,
    -- the image URLs of a blend (a JSON array of strings) and its dimensions
    ADD COLUMN blend_urls jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN blend_dimensions text,
    ADD COLUMN describe_url text,
    -- Discord flags of the result message, echoed by a click on its buttons (64 = ephemeral)
    ADD COLUMN message_flags integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT jobs_seed_pair CHECK ((seed_value IS NULL) = (seed_content IS NULL));

-- Account-wide settings of one API user; no row = the defaults
CREATE TABLE profiles (
    user_id    bigint      NOT NULL PRIMARY KEY,
    created    timestamptz NOT NULL,
    name       text,
    -- the callback of calls that pass no replyUrl of their own
    reply_url  text
);
