-- mjapi schema, version 2 (SQLite): what a job's result carries beyond version 1 (Discord
-- embeds and message flags, the seed, blend and describe inputs) and per-user profiles.
-- Every new job column has a default or allows NULL, so rows written by version 1 stay valid:
-- they read back with no embeds, no seed, no blend inputs and message flags 0.

-- Discord's embed objects, as Discord sent them (a JSON array of objects)
ALTER TABLE jobs ADD COLUMN embeds TEXT NOT NULL DEFAULT '[]';
-- the seed Midjourney reported: both columns set, or both NULL (no seed yet)
ALTER TABLE jobs ADD COLUMN seed_content TEXT;
ALTER TABLE jobs ADD COLUMN seed_value INTEGER
    CHECK ((seed_value IS NULL) = (seed_content IS NULL));
-- the image URLs of a blend (a JSON array of strings) and its dimensions
ALTER TABLE jobs ADD COLUMN blend_urls TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN blend_dimensions TEXT;
ALTER TABLE jobs ADD COLUMN describe_url TEXT;
-- Discord flags of the result message, echoed by a click on its buttons (64 = ephemeral)
ALTER TABLE jobs ADD COLUMN message_flags INTEGER NOT NULL DEFAULT 0;

-- Account-wide settings of one API user; no row = the defaults
CREATE TABLE profiles (
    user_id    INTEGER NOT NULL PRIMARY KEY,
    created    TEXT    NOT NULL,
    name       TEXT,
    -- the callback of calls that pass no replyUrl of their own
    reply_url  TEXT
) STRICT;
