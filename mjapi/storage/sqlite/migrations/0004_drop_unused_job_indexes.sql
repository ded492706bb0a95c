-- mjapi schema, version 4 (SQLite): the job indexes no query reads. Jobs are read by jobid, and
-- the unfinished ones by status (recovery) or owner and status; Discord events are matched to
-- jobs in memory (transports/discord/correlate.py), never by nonce, message id or job hash in
-- the database. Each index was kept up to date on every job change all the same: "updated"
-- changes with every progress update, so jobs_updated alone cost an index entry moved per
-- save, at thousands of saves a second under load (bench/README.md).

DROP INDEX jobs_channel_status;
DROP INDEX jobs_updated;
DROP INDEX jobs_nonce;
DROP INDEX jobs_message_id;
DROP INDEX jobs_job_hash;
