"""Versioned label taxonomies ("label schemas") and studies that pick one.

A label schema lists, per event category, the labels allowed. Schemas are versioned: a study
pins a ``(schema_name, schema_version)`` and every event records the version it was made
under, so a later taxonomy change never silently relabels old work. Category ``other`` accepts
any label.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from store._db import Database
from store.errors import StoreError, UnknownLabelError

CATEGORIES = ("beat", "rhythm", "sleep_stage", "seizure", "spindle", "arousal", "artifact", "other")

#: (category, label, description) of the built-in schema ``wavescore`` version 1.
_WAVESCORE_V1: tuple[tuple[str, str, str], ...] = (
    # AASM sleep stages (and an explicit "unscored").
    ("sleep_stage", "W", "wake"),
    ("sleep_stage", "N1", "NREM stage 1"),
    ("sleep_stage", "N2", "NREM stage 2"),
    ("sleep_stage", "N3", "NREM stage 3 (slow-wave sleep)"),
    ("sleep_stage", "R", "REM sleep"),
    ("sleep_stage", "?", "unscorable epoch"),
    # MIT-BIH beat annotation codes.
    ("beat", "N", "normal beat"),
    ("beat", "L", "left bundle branch block beat"),
    ("beat", "R", "right bundle branch block beat"),
    ("beat", "B", "bundle branch block beat (unspecified)"),
    ("beat", "A", "atrial premature beat"),
    ("beat", "a", "aberrated atrial premature beat"),
    ("beat", "J", "nodal (junctional) premature beat"),
    ("beat", "S", "supraventricular premature or ectopic beat"),
    ("beat", "V", "premature ventricular contraction"),
    ("beat", "r", "R-on-T premature ventricular contraction"),
    ("beat", "F", "fusion of ventricular and normal beat"),
    ("beat", "e", "atrial escape beat"),
    ("beat", "j", "nodal (junctional) escape beat"),
    ("beat", "n", "supraventricular escape beat"),
    ("beat", "E", "ventricular escape beat"),
    ("beat", "/", "paced beat"),
    ("beat", "f", "fusion of paced and normal beat"),
    ("beat", "Q", "unclassifiable beat"),
    ("beat", "?", "beat not classified during learning"),
    ("beat", "QRS", "QRS complex located but not classified (QRS detector output)"),
    # MIT-BIH rhythm codes (aux text without the parenthesis) and detector rhythm labels.
    ("rhythm", "AB", "atrial bigeminy"),
    ("rhythm", "AFIB", "atrial fibrillation"),
    ("rhythm", "AFL", "atrial flutter"),
    ("rhythm", "B", "ventricular bigeminy"),
    ("rhythm", "BII", "2 degree heart block"),
    ("rhythm", "IVR", "idioventricular rhythm"),
    ("rhythm", "N", "normal sinus rhythm"),
    ("rhythm", "NOD", "nodal (A-V junctional) rhythm"),
    ("rhythm", "P", "paced rhythm"),
    ("rhythm", "PREX", "pre-excitation (WPW)"),
    ("rhythm", "SBR", "sinus bradycardia"),
    ("rhythm", "STACH", "sinus tachycardia"),
    ("rhythm", "SVTA", "supraventricular tachyarrhythmia"),
    ("rhythm", "T", "ventricular trigeminy"),
    ("rhythm", "VFL", "ventricular flutter"),
    ("rhythm", "VT", "ventricular tachycardia"),
    ("rhythm", "VRUN", "ventricular run (3 or more V beats)"),
    ("rhythm", "PAUSE", "pause (RR above threshold)"),
    ("rhythm", "BIGEMINY", "bigeminy"),
    ("rhythm", "TRIGEMINY", "trigeminy"),
    ("rhythm", "NOISE", "noise too high to read the rhythm"),
    ("seizure", "seizure", "electrographic seizure"),
    ("seizure", "focal", "focal-onset seizure"),
    ("seizure", "generalized", "generalized-onset seizure"),
    ("spindle", "spindle", "sleep spindle (11-16 Hz, 0.5-2 s)"),
    ("spindle", "k_complex", "K-complex"),
    ("arousal", "arousal", "EEG arousal"),
    ("arousal", "respiratory_arousal", "respiratory-effort related arousal"),
    ("artifact", "artifact", "artifact of unspecified source"),
    ("artifact", "movement", "movement artifact"),
    ("artifact", "electrode", "electrode pop or loose electrode"),
    ("artifact", "muscle", "muscle artifact"),
    ("artifact", "mains", "mains interference"),
)

BUILTIN_SCHEMAS: dict[tuple[str, int], tuple[tuple[str, str, str], ...]] = {
    ("wavescore", 1): _WAVESCORE_V1,
}

DEFAULT_STUDY = "default"


@dataclass(frozen=True, slots=True)
class Study:
    """A study: a label schema version and a scoring epoch length.

    Attributes
    ----------
    study_id
        Short name.
    schema_name, schema_version
        The label taxonomy its events follow.
    epoch_s
        Scoring epoch length in seconds (30 for AASM; 4 or 10 for animal work).
    """

    study_id: str
    description: str
    schema_name: str
    schema_version: int
    epoch_s: float


class LabelsMixin(Database):
    """Label schemas and studies."""

    def ensure_builtin_schemas(self) -> None:
        """Insert the built-in schemas and the default study if missing (idempotent)."""
        with self.transaction() as cur:
            for (name, version), rows in BUILTIN_SCHEMAS.items():
                have = cur.execute(
                    "SELECT count(*) FROM label_schemas WHERE schema_name=? AND schema_version=?",
                    [name, version],
                ).fetchone()
                if have is not None and have[0] >= len(rows):
                    continue
                # Labels are only ever added to a built-in schema version, never changed or
                # removed, so old events keep their meaning; insert the ones missing.
                cur.executemany(  # a few dozen rows, once
                    "INSERT INTO label_schemas VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [[name, version, c, lab, d] for c, lab, d in rows],
                )
            cur.execute(
                "INSERT INTO studies VALUES (?, ?, 'wavescore', 1, 30.0) ON CONFLICT DO NOTHING",
                [DEFAULT_STUDY, "default study: AASM stages, MIT-BIH codes, 30-s epochs"],
            )

    def create_study(
        self, study_id: str, description: str, schema_name: str, schema_version: int,
        epoch_s: float = 30.0,
    ) -> Study:
        """Create a study pinned to a label schema version.

        Raises
        ------
        StoreError
            The schema version does not exist or the epoch length is not positive.
        """
        if not epoch_s > 0:
            raise StoreError(f"epoch length must be positive, got {epoch_s} s")
        cur = self.cursor()
        row = cur.execute(
            "SELECT count(*) FROM label_schemas WHERE schema_name=? AND schema_version=?",
            [schema_name, schema_version],
        ).fetchone()
        if row is None or row[0] == 0:
            raise StoreError(f"no label schema {schema_name!r} version {schema_version}")
        cur.execute(
            "INSERT INTO studies VALUES (?, ?, ?, ?, ?)",
            [study_id, description, schema_name, schema_version, epoch_s],
        )
        return Study(study_id, description, schema_name, schema_version, epoch_s)

    def assign_study(self, recording_id: str, study_id: str) -> None:
        """Put a recording in a study (replacing its previous study)."""
        self.cursor().execute(
            "INSERT OR REPLACE INTO recording_studies VALUES (?, ?)", [recording_id, study_id]
        )

    def study_of(self, recording_id: str, cur: duckdb.DuckDBPyConnection | None = None) -> Study:
        """Return the study of a recording (the default study when none was assigned)."""
        cur = cur or self.cursor_without_fold()
        row = cur.execute(
            "SELECT s.study_id, s.description, s.schema_name, s.schema_version, s.epoch_s "
            "FROM studies s LEFT JOIN recording_studies rs ON rs.study_id = s.study_id "
            "AND rs.recording_id = ? WHERE rs.recording_id IS NOT NULL OR s.study_id = ? "
            "ORDER BY rs.recording_id IS NULL LIMIT 1",
            [recording_id, DEFAULT_STUDY],
        ).fetchone()
        if row is None:
            raise StoreError("the default study is missing; was the store initialised?")
        return Study(str(row[0]), str(row[1]), str(row[2]), int(row[3]), float(row[4]))

    def allowed_labels(
        self, schema_name: str, schema_version: int, category: str,
        cur: duckdb.DuckDBPyConnection | None = None,
    ) -> set[str]:
        """Labels allowed for ``category`` in a schema version (empty for ``other``: any)."""
        cur = cur or self.cursor_without_fold()
        rows = cur.execute(
            "SELECT label FROM label_schemas WHERE schema_name=? AND schema_version=? "
            "AND category=?",
            [schema_name, schema_version, category],
        ).fetchall()
        return {str(r[0]) for r in rows}

    def check_label(
        self, study: Study, category: str, label: str,
        cur: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        """Raise :class:`UnknownLabelError` unless ``label`` is allowed for ``category``."""
        if category not in CATEGORIES:
            raise UnknownLabelError(
                f"unknown category {category!r}; categories are {', '.join(CATEGORIES)}"
            )
        if category == "other":
            if not label.strip():
                raise UnknownLabelError("label must not be empty")
            return
        allowed = self.allowed_labels(study.schema_name, study.schema_version, category, cur)
        if label not in allowed:
            raise UnknownLabelError(
                f"label {label!r} is not in schema {study.schema_name} v{study.schema_version} "
                f"for category {category!r}; allowed: {', '.join(sorted(allowed))}"
            )
