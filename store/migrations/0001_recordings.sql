-- 0001: registry of ingested recordings and their channels.
-- Everything here is de-identified: ids are pseudonyms, start_time is date-shifted,
-- source_files_sha256 holds content hashes only (no file names).

CREATE TABLE recordings (
    recording_id        VARCHAR PRIMARY KEY,
    source_format       VARCHAR NOT NULL,
    duration_s          DOUBLE NOT NULL CHECK (duration_s >= 0),
    start_time          TIMESTAMP,
    n_channels          INTEGER NOT NULL CHECK (n_channels >= 0),
    content_sha256      VARCHAR NOT NULL UNIQUE,
    source_files_sha256 JSON NOT NULL,
    ingested_at         TIMESTAMP NOT NULL,
    stored_path         VARCHAR NOT NULL,
    deid_report         JSON NOT NULL
);

CREATE TABLE channels (
    recording_id  VARCHAR NOT NULL,
    channel_index INTEGER NOT NULL CHECK (channel_index >= 0),
    name          VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    unit          VARCHAR NOT NULL,
    fs            DOUBLE NOT NULL CHECK (fs > 0),
    n_samples     BIGINT NOT NULL CHECK (n_samples >= 0),
    PRIMARY KEY (recording_id, channel_index)
);
