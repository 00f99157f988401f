-- 0004: adjudication of disagreements between scorers.
-- A reviewer's decision for one item (an epoch, or an event span) where scorers disagree.
CREATE SEQUENCE adjudication_id_seq START 1;

CREATE TABLE adjudications (
    adjudication_id BIGINT NOT NULL,
    recording_id    VARCHAR NOT NULL,
    category        VARCHAR NOT NULL,
    onset_s         DOUBLE NOT NULL,
    duration_s      DOUBLE NOT NULL,
    label           VARCHAR NOT NULL,
    decided_by      VARCHAR NOT NULL,
    decided_at      TIMESTAMP NOT NULL,
    note            VARCHAR NOT NULL DEFAULT '',
    superseded      BOOLEAN NOT NULL DEFAULT false
);

CREATE VIEW research.adjudications AS
SELECT adjudication_id, recording_id, category, onset_s, duration_s, label, decided_by,
       decided_at, note
FROM main.adjudications WHERE NOT superseded;
