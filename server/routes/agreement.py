"""Inter-rater agreement of sleep staging, disagreements, adjudication and consensus.

Scorers are users (their own stage events and the proposals they decided) and detector versions
(their proposals as proposed); see :mod:`store.agreement`. Reviewers and admins adjudicate the
epochs human scorers disagree on; the consensus is the adjudication, else the unanimous human
stage, else unresolved. See ``docs/events-and-review.md``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from server.auth import current_user
from server.routes.events import store_of
from store import StageAgreement, Store


class PairAgreementOut(msgspec.Struct, frozen=True):
    """Two scorers over the epochs both scored: percent agreement (0-100) and Cohen's kappa."""

    scorer_a: str
    scorer_b: str
    n_epochs: int
    percent_agreement: float
    kappa: float


class AgreementOut(msgspec.Struct, frozen=True):
    """Agreement of everyone who staged the recording.

    ``fleiss_kappa`` is over the epochs every human scorer scored (``null`` with fewer than two
    human scorers); ``n_disagreements`` counts epochs human scorers disagree on,
    ``n_unresolved`` those of them not adjudicated yet.
    """

    recording_id: FromPath[str]
    epoch_s: float
    scorers: list[str]
    n_epochs_scored: dict[str, int]
    pairs: list[PairAgreementOut]
    fleiss_kappa: float | None
    n_disagreements: int
    n_unresolved: int


class DisagreementOut(msgspec.Struct, frozen=True):
    """One epoch human scorers staged differently; ``adjudicated`` is the reviewer's stage."""

    epoch: int
    onset_s: float
    labels: dict[str, str]
    adjudicated: str | None


class DisagreementListOut(msgspec.Struct, frozen=True):
    """Epochs human scorers disagree on, in time order."""

    recording_id: FromPath[str]
    epoch_s: float
    disagreements: list[DisagreementOut]
    n_unresolved: int


class AdjudicationIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The final stage of one epoch (``W``, ``N1``, ``N2``, ``N3``, ``R`` or ``?``)."""

    stage: str
    note: str = ""


class AdjudicationOut(msgspec.Struct, frozen=True):
    """A stored adjudication (it replaces an earlier one of the same epoch)."""

    recording_id: FromPath[str]
    epoch: int
    onset_s: float
    stage: str
    note: str
    adjudicated_by: str


class ConsensusEpochOut(msgspec.Struct, frozen=True):
    """The final stage of one epoch, ``null`` while human scorers disagree unadjudicated."""

    epoch: int
    onset_s: float
    stage: str | None


class ConsensusOut(msgspec.Struct, frozen=True):
    """Final stage per epoch: adjudication, else the unanimous human stage, else ``null``."""

    recording_id: FromPath[str]
    epoch_s: float
    epochs: list[ConsensusEpochOut]
    n_unresolved: int


def agreement_out(report: StageAgreement, disagreements: list[dict[str, Any]]) -> AgreementOut:
    """The wire form of an agreement report (percent agreement as 0-100)."""
    return AgreementOut(
        recording_id=report.recording_id,
        epoch_s=report.epoch_s,
        scorers=list(report.scorers),
        n_epochs_scored=dict(report.n_epochs_scored),
        pairs=[PairAgreementOut(p.scorer_a, p.scorer_b, p.n_epochs,
                                100.0 * p.percent_agreement, p.kappa) for p in report.pairs],
        fleiss_kappa=report.fleiss_kappa,
        n_disagreements=len(disagreements),
        n_unresolved=sum(d["adjudicated"] is None for d in disagreements),
    )


def _known(store: Store, recording_id: str) -> None:
    store.get_recording(recording_id)  # 404 when unknown


class AgreementController(Controller):
    """Agreement, disagreements, adjudications and consensus of one recording's staging."""

    path = "/api/recordings/{recording_id:str}"
    tags = ("agreement",)

    @get("/agreement", operation_id="getAgreement", sync_to_thread=True)
    def agreement(self, state: State, recording_id: FromPath[str]) -> AgreementOut:
        """Scorers, epochs per scorer, pairwise agreement and Cohen's kappa, Fleiss' kappa."""
        store = store_of(state)
        _known(store, recording_id)
        return agreement_out(store.stage_agreement(recording_id),
                             store.stage_disagreements(recording_id))

    @get("/disagreements", operation_id="listDisagreements", sync_to_thread=True)
    def disagreements(self, state: State, recording_id: FromPath[str]) -> DisagreementListOut:
        """Epochs human scorers staged differently, with each one's stage and any
        adjudication."""
        store = store_of(state)
        _known(store, recording_id)
        epoch_s = store.study_of(recording_id).epoch_s
        items = [msgspec.convert(d, DisagreementOut)
                 for d in store.stage_disagreements(recording_id)]
        return DisagreementListOut(recording_id=recording_id, epoch_s=epoch_s,
                                   disagreements=items,
                                   n_unresolved=sum(d.adjudicated is None for d in items))

    @put("/adjudications/{epoch:int}", operation_id="adjudicateEpoch", sync_to_thread=True)
    def adjudicate(
        self,
        state: State,
        request: Request[Any, Any, Any],
        recording_id: FromPath[str],
        epoch: FromPath[int],
        data: JSONBody[AdjudicationIn],
    ) -> AdjudicationOut:
        """Set the final stage of one epoch (reviewers and admins; replaces an earlier one)."""
        store = store_of(state)
        user = current_user(request)
        _known(store, recording_id)
        store.adjudicate_epoch(recording_id, epoch, data.stage, user, data.note)
        epoch_s = store.study_of(recording_id).epoch_s
        return AdjudicationOut(recording_id=recording_id, epoch=epoch, onset_s=epoch * epoch_s,
                               stage=data.stage, note=data.note, adjudicated_by=user.name)

    @get("/consensus", operation_id="getConsensus", sync_to_thread=True)
    def consensus(self, state: State, recording_id: FromPath[str]) -> ConsensusOut:
        """The final stage of every scored epoch."""
        store = store_of(state)
        _known(store, recording_id)
        epoch_s = store.study_of(recording_id).epoch_s
        final = store.stage_consensus(recording_id)
        return ConsensusOut(
            recording_id=recording_id, epoch_s=epoch_s,
            epochs=[ConsensusEpochOut(e, e * epoch_s, s) for e, s in final.items()],
            n_unresolved=sum(s is None for s in final.values()))


__all__ = [
    "AdjudicationIn",
    "AdjudicationOut",
    "AgreementController",
    "AgreementOut",
    "ConsensusOut",
    "DisagreementListOut",
    "agreement_out",
]
