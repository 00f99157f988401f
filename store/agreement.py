"""Inter-rater agreement and adjudication.

Several people may score the same recording independently (see
:meth:`store.reviews.ReviewsMixin.set_epoch_stage`). A *scorer* is a user (their own human events
plus the proposals they decided), a detector version (its proposals as proposed, before any
human change), or an imported scoring (``import:<file sha256 prefix>``, e.g. an expert
hypnogram). Imported scorings count as human scorers. For sleep stages, each scorer's labels
are put on the study's epoch grid and compared pairwise (percent agreement and Cohen's kappa)
and together (Fleiss' kappa); epochs where human scorers disagree are listed for
adjudication. A reviewer's adjudication is stored
in its own table and wins in the consensus; otherwise an epoch's consensus is the label every
human scorer gave, and it is unresolved when they differ.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from store.errors import InvalidEventError
from store.reviews import ReviewsMixin
from store.users import Permission, User

_LABEL_SQL = """
SELECT e.event_id, e.onset_s, e.duration_s, e.label, e.source, e.status, e.created_by,
       e.updated_by, r.detector, r.detector_version,
       json_extract_string(e.import_ref, '$.file_sha256') AS import_sha,
       (SELECT json_extract_string(rv.previous, '$.label') FROM reviews rv
        WHERE rv.event_id = e.event_id AND rv.previous IS NOT NULL
        ORDER BY rv.review_id LIMIT 1) AS proposed_label
FROM events e LEFT JOIN detector_runs r USING (run_id)
WHERE e.recording_id = ? AND e.category = ? AND NOT e.deleted
ORDER BY e.onset_s
"""


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two equally long label sequences (1.0 when both are constant and equal).

    Parameters
    ----------
    a, b
        Labels per item, same length ``n >= 1``.
    """
    if len(a) != len(b) or not a:
        raise ValueError("kappa needs two non-empty label sequences of the same length")
    labels = sorted(set(a) | set(b))
    index = {lab: i for i, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)))
    for x, y in zip(a, b, strict=True):
        m[index[x], index[y]] += 1
    n = m.sum()
    p_o = np.trace(m) / n
    p_e = float((m.sum(0) * m.sum(1)).sum()) / n**2
    return 1.0 if p_e >= 1.0 else float((p_o - p_e) / (1.0 - p_e))


def fleiss_kappa(ratings: list[list[str]]) -> float:
    """Fleiss' kappa over items each rated by the same number (``>= 2``) of raters.

    Parameters
    ----------
    ratings
        ``ratings[i]`` are the labels the raters gave item ``i``.
    """
    if not ratings or len(ratings[0]) < 2 or any(len(r) != len(ratings[0]) for r in ratings):
        raise ValueError("Fleiss' kappa needs items rated by the same number (>= 2) of raters")
    labels = sorted({lab for r in ratings for lab in r})
    counts = np.array([[r.count(lab) for lab in labels] for r in ratings], dtype=float)
    n_raters = counts.sum(1)[0]
    p_j = counts.sum(0) / counts.sum()
    p_i = ((counts**2).sum(1) - n_raters) / (n_raters * (n_raters - 1))
    p_bar, p_e = p_i.mean(), float((p_j**2).sum())
    return 1.0 if p_e >= 1.0 else float((p_bar - p_e) / (1.0 - p_e))


@dataclass(frozen=True, slots=True)
class PairAgreement:
    """Agreement of two scorers over the epochs both scored."""

    scorer_a: str
    scorer_b: str
    n_epochs: int
    percent_agreement: float
    kappa: float


@dataclass(frozen=True, slots=True)
class StageAgreement:
    """Agreement report for one recording's sleep staging.

    Attributes
    ----------
    epoch_s
        Epoch length used.
    scorers
        Scorer names: user names and ``detector:<name>@<version>``.
    n_epochs_scored
        Epochs scored per scorer.
    pairs
        Every pair of scorers with at least one common epoch.
    fleiss_kappa
        Over epochs scored by every human scorer (``None`` with fewer than 2 human scorers).
    """

    recording_id: str
    epoch_s: float
    scorers: list[str]
    n_epochs_scored: dict[str, int]
    pairs: list[PairAgreement]
    fleiss_kappa: float | None


class AgreementMixin(ReviewsMixin):
    """Scorers' labels, agreement statistics, disagreements and adjudication."""

    def stage_scorings(self, recording_id: str) -> tuple[float, dict[str, dict[int, str]]]:
        """Each scorer's sleep stage per epoch index; returns ``(epoch_s, scorings)``."""
        epoch_s = self.study_of(recording_id).epoch_s
        scorings: dict[str, dict[int, str]] = {}
        for row in self.cursor().execute(_LABEL_SQL, [recording_id, "sleep_stage"]).fetchall():
            (_, onset_s, _, label, source, status, created_by, updated_by, det, det_ver,
             import_sha, proposed) = row
            epoch = round(onset_s / epoch_s)
            if source == "detector":
                name = f"detector:{det}@{det_ver}"
                scorings.setdefault(name, {})[epoch] = proposed or label
                if status in ("confirmed", "edited"):
                    scorings.setdefault(updated_by, {})[epoch] = label
            elif source == "human" and status != "rejected":
                scorings.setdefault(created_by, {})[epoch] = label
            elif source == "import" and status != "rejected":
                # an imported scoring (e.g. an expert hypnogram) is a scorer of its own
                scorings.setdefault(f"import:{(import_sha or 'unknown')[:12]}", {})[epoch] = label
        return epoch_s, scorings

    def stage_agreement(self, recording_id: str) -> StageAgreement:
        """Pairwise and overall agreement of everyone who staged ``recording_id``."""
        epoch_s, scorings = self.stage_scorings(recording_id)
        names = sorted(scorings)
        pairs = []
        for a, b in itertools.combinations(names, 2):
            common = sorted(set(scorings[a]) & set(scorings[b]))
            if not common:
                continue
            la = [scorings[a][e] for e in common]
            lb = [scorings[b][e] for e in common]
            agree = sum(x == y for x, y in zip(la, lb, strict=True)) / len(common)
            pairs.append(PairAgreement(a, b, len(common), agree, cohen_kappa(la, lb)))
        humans = [n for n in names if not n.startswith("detector:")]  # users and imports
        fleiss = None
        if len(humans) >= 2:
            common_all = set.intersection(*(set(scorings[h]) for h in humans))
            if common_all:
                fleiss = fleiss_kappa([[scorings[h][e] for h in humans]
                                       for e in sorted(common_all)])
        return StageAgreement(recording_id, epoch_s, names,
                              {n: len(s) for n, s in scorings.items()}, pairs, fleiss)

    def stage_disagreements(self, recording_id: str) -> list[dict[str, Any]]:
        """Epochs where human scorers gave different stages, with each one's label and any
        adjudication, in time order."""
        epoch_s, scorings = self.stage_scorings(recording_id)
        humans = [n for n in sorted(scorings) if not n.startswith("detector:")]
        adjudicated = self._adjudicated(recording_id, "sleep_stage", epoch_s)
        out = []
        for epoch in sorted(set().union(*(scorings[h] for h in humans)) if humans else ()):
            labels = {h: scorings[h][epoch] for h in humans if epoch in scorings[h]}
            if len(set(labels.values())) > 1:
                out.append({"epoch": epoch, "onset_s": epoch * epoch_s, "labels": labels,
                            "adjudicated": adjudicated.get(epoch)})
        return out

    def _adjudicated(self, recording_id: str, category: str, epoch_s: float) -> dict[int, str]:
        rows = self.cursor().execute(
            "SELECT onset_s, label FROM adjudications WHERE recording_id = ? AND category = ? "
            "AND NOT superseded ORDER BY adjudication_id", [recording_id, category]).fetchall()
        return {round(r[0] / epoch_s): str(r[1]) for r in rows}

    def adjudicate_epoch(self, recording_id: str, epoch: int, label: str, user: User,
                         note: str = "") -> None:
        """Record a reviewer's final stage for one epoch (replacing an earlier adjudication).

        Raises
        ------
        PermissionDeniedError
            The user may not adjudicate (reviewers and admins may).
        UnknownLabelError, InvalidEventError
        """
        user.require(Permission.ADJUDICATE)
        study = self.study_of(recording_id)
        self.check_label(study, "sleep_stage", label)
        duration_s, _ = self._recording_bounds(self.cursor(), recording_id)
        onset_s = epoch * study.epoch_s
        if epoch < 0 or onset_s >= duration_s:
            raise InvalidEventError(
                f"epoch {epoch} is outside the recording (0..{int(duration_s // study.epoch_s)})")
        with self.write_lock:
            with self.transaction() as cur:
                cur.execute(
                    "UPDATE adjudications SET superseded = true WHERE recording_id = ? AND "
                    "category = 'sleep_stage' AND abs(onset_s - ?) < 1e-6 AND NOT superseded",
                    [recording_id, onset_s])
                cur.execute(
                    "INSERT INTO adjudications VALUES (nextval('adjudication_id_seq'), ?, "
                    "'sleep_stage', ?, ?, ?, ?, ?, ?, false)",
                    [recording_id, onset_s, study.epoch_s, label, user.name, self.audit_now(),
                     note])
                self.append_audit(cur, user.name, "stage.adjudicate",
                                  f"recording:{recording_id}", {"epoch": epoch, "label": label})
            self.write_audit_anchor()

    def stage_consensus(self, recording_id: str) -> dict[int, str | None]:
        """Final stage per epoch: adjudication, else unanimous human label, else ``None``."""
        epoch_s, scorings = self.stage_scorings(recording_id)
        humans = [n for n in scorings if not n.startswith("detector:")]
        adjudicated = self._adjudicated(recording_id, "sleep_stage", epoch_s)
        epochs = set(adjudicated).union(*(scorings[h] for h in humans)) if humans else \
            set(adjudicated)
        out: dict[int, str | None] = {}
        for epoch in sorted(epochs):
            if epoch in adjudicated:
                out[epoch] = adjudicated[epoch]
                continue
            labels = {scorings[h][epoch] for h in humans if epoch in scorings[h]}
            out[epoch] = labels.pop() if len(labels) == 1 else None
        return out
