-- 0002: events, label schemas, studies, detector runs, reviews, users, sessions, audit log.
-- Events are stored in (recording_id, onset_s) order by bulk loads so window queries read few
-- row groups; event ids grow with insertion order so id lookups prune by zone maps too.

CREATE SEQUENCE event_id_seq START 1;
CREATE SEQUENCE review_id_seq START 1;
CREATE SEQUENCE run_id_seq START 1;

CREATE TABLE label_schemas (
    schema_name    VARCHAR NOT NULL,
    schema_version INTEGER NOT NULL,
    category       VARCHAR NOT NULL,
    label          VARCHAR NOT NULL,
    description    VARCHAR NOT NULL,
    PRIMARY KEY (schema_name, schema_version, category, label)
);

CREATE TABLE studies (
    study_id       VARCHAR PRIMARY KEY,
    description    VARCHAR NOT NULL,
    schema_name    VARCHAR NOT NULL,
    schema_version INTEGER NOT NULL,
    epoch_s        DOUBLE NOT NULL CHECK (epoch_s > 0)
);

CREATE TABLE recording_studies (
    recording_id VARCHAR PRIMARY KEY,
    study_id     VARCHAR NOT NULL
);

CREATE TABLE users (
    user_id       VARCHAR PRIMARY KEY,
    name          VARCHAR NOT NULL UNIQUE,
    role          VARCHAR NOT NULL CHECK (role IN ('annotator', 'reviewer', 'researcher', 'admin')),
    token_sha256  VARCHAR NOT NULL UNIQUE,
    password_hash VARCHAR,
    created_at    TIMESTAMP NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE sessions (
    session_sha256 VARCHAR PRIMARY KEY,
    user_id        VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL
);

CREATE TABLE detector_runs (
    run_id           BIGINT PRIMARY KEY,
    recording_id     VARCHAR NOT NULL,
    detector         VARCHAR NOT NULL,
    detector_version VARCHAR NOT NULL,
    params           JSON NOT NULL,
    code_version     VARCHAR NOT NULL,
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP NOT NULL,
    n_events         BIGINT NOT NULL,
    created_by       VARCHAR NOT NULL
);

CREATE TABLE events (
    event_id       BIGINT NOT NULL,
    recording_id   VARCHAR NOT NULL,
    channels       INTEGER[] NOT NULL,
    onset_s        DOUBLE NOT NULL CHECK (onset_s >= 0),
    duration_s     DOUBLE NOT NULL CHECK (duration_s >= 0),
    label          VARCHAR NOT NULL,
    category       VARCHAR NOT NULL CHECK (category IN ('beat', 'rhythm', 'sleep_stage', 'seizure',
                                                        'spindle', 'arousal', 'artifact', 'other')),
    source         VARCHAR NOT NULL CHECK (source IN ('detector', 'human', 'import')),
    run_id         BIGINT,
    import_ref     JSON,
    confidence     DOUBLE CHECK (confidence BETWEEN 0 AND 1),
    status         VARCHAR NOT NULL CHECK (status IN ('proposed', 'confirmed', 'edited', 'rejected')),
    schema_name    VARCHAR NOT NULL,
    schema_version INTEGER NOT NULL,
    created_by     VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_by     VARCHAR NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    version        INTEGER NOT NULL,
    deleted        BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE reviews (
    review_id   BIGINT NOT NULL,
    event_id    BIGINT NOT NULL,
    user_id     VARCHAR NOT NULL,
    decided_at  TIMESTAMP NOT NULL,
    action      VARCHAR NOT NULL,
    previous    JSON,
    new         JSON,
    undo_state  VARCHAR NOT NULL CHECK (undo_state IN ('active', 'undone', 'dropped', 'none'))
);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    logged_at TIMESTAMP NOT NULL,
    user_name VARCHAR NOT NULL,
    action    VARCHAR NOT NULL,
    target    VARCHAR NOT NULL,
    detail    VARCHAR NOT NULL,
    prev_hash VARCHAR NOT NULL,
    hash      VARCHAR NOT NULL
);
