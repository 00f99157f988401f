"""Run a registered detector on a stored recording and store its proposals.

The channels handed to the detector are the recording's channels whose kind is in the
detector's ``needs`` (in recording order), read as memory-mapped float32 arrays. Event channel
indices (positions in that list) are mapped back to the recording's channel indices, events are
clipped to the recording, and the proposals are stored with their detector-run row in one
transaction (:meth:`store.Store.record_detector_run`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec

from detectors._types import ChannelInput, DetectedEvent, DetectorSpec, ProgressCallback
from detectors.registry import get_detector
from server.errors import DetectorParamsError, NoSuitableChannelsError
from signal_io.stored import StoredRecording, open_stored
from store import EventDraft, Permission, Store, User

_TIME_EPS_S = 1e-6


@dataclass(frozen=True, slots=True)
class DetectionOutcome:
    """What a detector run stored.

    Attributes
    ----------
    run_id
        The detector-run row.
    detector, detector_version
        Which detector ran.
    n_events
        Proposals stored.
    channels
        Recording channel indices given to the detector.
    elapsed_s
        Wall time of the detector alone (s).
    """

    run_id: int
    detector: str
    detector_version: str
    n_events: int
    channels: tuple[int, ...]
    elapsed_s: float


def code_version() -> str:
    """The installed wavescore version (recorded with every detector run)."""
    try:
        return metadata.version("wavescore")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_params(spec: DetectorSpec, raw: Mapping[str, Any]) -> Any:
    """Build the detector's parameter object from names and values (strings are converted).

    Raises
    ------
    DetectorParamsError
        An unknown name, or a value that does not convert to the parameter's type.
    """
    names = {f.name for f in dataclasses.fields(spec.params_type)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise DetectorParamsError(
            f"detector {spec.name} has no parameter {unknown[0]!r}; its parameters are "
            f"{', '.join(sorted(names)) or 'none'}"
        )
    try:
        return msgspec.convert(dict(raw), spec.params_type, strict=False)
    except msgspec.ValidationError as exc:
        raise DetectorParamsError(f"invalid parameters for detector {spec.name}: {exc}") from exc


def parse_param_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``k=v`` command-line pairs; values that read as JSON (numbers, true, lists) are
    converted, anything else stays a string.

    Raises
    ------
    DetectorParamsError
        A pair without ``=``.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DetectorParamsError(f"parameter {pair!r} must be written NAME=VALUE")
        try:
            out[key.strip()] = msgspec.json.decode(value)
        except msgspec.DecodeError:
            out[key.strip()] = value
    return out


def pick_channels(
    spec: DetectorSpec, stored: StoredRecording
) -> tuple[list[ChannelInput], list[int]]:
    """The recording's channels of the kinds ``spec`` needs, and their recording indices.

    Raises
    ------
    NoSuitableChannelsError
        None of the recording's channels has a needed kind.
    """
    wanted = {k.upper() for k in spec.needs}
    inputs: list[ChannelInput] = []
    indices: list[int] = []
    for ch in stored.channels:
        kind = str(ch.kind)
        if kind.upper() in wanted:
            inputs.append(ChannelInput(ch.name, kind, stored.raw(ch.index), float(ch.fs), ch.unit))
            indices.append(ch.index)
    if not inputs:
        have = sorted({str(c.kind) for c in stored.channels})
        raise NoSuitableChannelsError(
            f"detector {spec.name} needs channels of kind {', '.join(spec.needs)}; recording "
            f"{stored.recording_id} has {', '.join(have) or 'no channels'}"
        )
    return inputs, indices


def to_drafts(
    events: Sequence[DetectedEvent], indices: Sequence[int], duration_s: float
) -> list[EventDraft]:
    """Map detector events to drafts: recording channel indices, clipped to the recording."""
    drafts = []
    for e in events:
        onset = min(max(float(e.onset_s), 0.0), duration_s)
        end = min(max(float(e.onset_s) + max(float(e.duration_s), 0.0), onset), duration_s)
        chans = tuple(sorted({indices[c] for c in e.channels if 0 <= c < len(indices)}))
        drafts.append(
            EventDraft(
                onset,
                end - onset,
                e.label,
                e.category,
                chans,
                min(max(float(e.confidence), 0.0), 1.0),
            )
        )
    return drafts


def run_detection(
    store: Store,
    recording_id: str,
    detector: str,
    params: Mapping[str, Any],
    user: User,
    *,
    data_dir: Path | None = None,
    stored: StoredRecording | None = None,
    progress: ProgressCallback | None = None,
) -> DetectionOutcome:
    """Run ``detector`` on a stored recording and store its proposals.

    Parameters
    ----------
    store
        The open store.
    recording_id
        Registered recording.
    detector
        Registered detector name (``wavescore detect --list``).
    params
        Parameter names and values; defaults for the rest.
    user
        Who runs it (needs the ``run_detectors`` permission).
    data_dir, stored
        Where the stored recording lives (``data_dir / stored_path``), or the opened recording.
    progress
        Called with the fraction done in ``[0, 1]``.

    Raises
    ------
    PermissionDeniedError, UnknownDetectorError, DetectorParamsError, NoSuitableChannelsError,
    RecordingNotFoundError, InvalidEventError, UnknownLabelError
    """
    user.require(Permission.RUN_DETECTORS)
    spec = get_detector(detector)
    param_obj = build_params(spec, params)
    row = store.get_recording(recording_id)
    if stored is None:
        if data_dir is None:
            raise ValueError("run_detection needs data_dir or stored")
        stored = open_stored(data_dir / row.stored_path)
    inputs, indices = pick_channels(spec, stored)
    started = datetime.now(UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    events = spec.run(inputs, param_obj, progress)
    elapsed = time.perf_counter() - t0
    drafts = to_drafts(events, indices, float(row.duration_s))
    run_id = store.record_detector_run(
        recording_id,
        detector=spec.name,
        detector_version=spec.version,
        params=dataclasses.asdict(param_obj),
        code_version=code_version(),
        started_at=started,
        drafts=drafts,
        user=user,
    )
    return DetectionOutcome(run_id, spec.name, spec.version, len(drafts), tuple(indices), elapsed)


__all__ = [
    "DetectionOutcome",
    "build_params",
    "code_version",
    "parse_param_pairs",
    "pick_channels",
    "run_detection",
    "to_drafts",
]
