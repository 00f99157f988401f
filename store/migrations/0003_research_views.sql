-- 0003: the documented views researchers query with SQL (schema "research").
-- No secrets (token or password hashes) and no session data are reachable from here.
CREATE SCHEMA research;

CREATE VIEW research.recordings AS
SELECT recording_id, source_format, duration_s, start_time, n_channels, ingested_at
FROM main.recordings;

CREATE VIEW research.channels AS
SELECT recording_id, channel_index, name, kind, unit, fs, n_samples FROM main.channels;

CREATE VIEW research.events AS
SELECT event_id, recording_id, onset_s, duration_s, label, category, channels, source, status,
       confidence, run_id, schema_name, schema_version, created_by, created_at, updated_by,
       updated_at, version
FROM main.events WHERE NOT deleted;

CREATE VIEW research.reviews AS
SELECT r.review_id, r.event_id, u.name AS user_name, u.role, r.decided_at, r.action,
       r.previous, r.new
FROM main.reviews r LEFT JOIN main.users u USING (user_id);

CREATE VIEW research.detector_runs AS
SELECT run_id, recording_id, detector, detector_version, params, code_version, started_at,
       finished_at, n_events, created_by
FROM main.detector_runs;

CREATE VIEW research.studies AS
SELECT s.study_id, s.description, s.schema_name, s.schema_version, s.epoch_s
FROM main.studies s;

CREATE VIEW research.label_schemas AS SELECT * FROM main.label_schemas;
