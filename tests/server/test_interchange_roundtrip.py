"""Export -> import returns the same events, for every interchange format; real files import.

Property-based round trips run over random event sets (Hypothesis); WFDB exports are also read
with ``wfdb.rdann`` and EDF+ exports with ``mne.read_annotations``; third-party files from
``../shared/data`` import with the documented mappings.
"""

from __future__ import annotations

import collections
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.interchange import (
    ExportContext,
    ImportResult,
    export_bids_tsv,
    export_csv,
    export_edf_annotations,
    export_hypnogram,
    export_parquet,
    export_wfdb,
    import_bids_tsv,
    import_csv,
    import_edf_annotations,
    import_hypnogram,
    import_parquet,
    import_wfdb,
    read_events_parquet,
    sidecar_path,
)
from server.interchange._common import sort_key
from store._event_types import Event, EventDraft, EventSource, EventStatus
from store.labels import CATEGORIES
from tests.conftest import need_shared

#: More examples for a longer local run: WAVESCORE_HYPOTHESIS_EXAMPLES=500.
SETTINGS = settings(max_examples=int(os.environ.get("WAVESCORE_HYPOTHESIS_EXAMPLES", "40")),
                    deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
LABEL_CHARS = st.characters(blacklist_categories=("Cs", "Cc"))
LABELS = st.text(LABEL_CHARS, min_size=1, max_size=12).map(str.strip).filter(bool)
CHANNELS = st.lists(st.integers(0, 7), max_size=3, unique=True).map(lambda c: tuple(sorted(c)))
ONSETS = st.floats(0.0, 1e5, allow_nan=False, allow_subnormal=False)
DURATIONS = st.floats(0.0, 1e4, allow_nan=False, allow_subnormal=False)
CONFIDENCES = st.none() | st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def drafts(draw: st.DrawFn, labels: st.SearchStrategy[str] = LABELS,
           confidences: st.SearchStrategy[float | None] = CONFIDENCES) -> EventDraft:
    category = draw(st.sampled_from(CATEGORIES))
    # Mix in the labels each format has a native form for.
    native = {"beat": ["N", "V", "A", "/", "X"], "rhythm": ["AFIB", "N", "VT"],
              "sleep_stage": ["W", "N1", "N2", "N3", "R", "?"], "other": ["~", "Lights off"]}
    label = draw(st.sampled_from(native.get(category, ["x"])) | labels)
    duration = draw(DURATIONS | st.just(0.0))
    return EventDraft(draw(ONSETS), duration, label, category, draw(CHANNELS),
                      draw(confidences))


EVENT_SETS = st.lists(drafts(), max_size=25)


def values(e: EventDraft) -> tuple[object, ...]:
    return (e.onset_s, e.duration_s, e.label, e.category, e.channels, e.confidence)


def same_events(written: list[EventDraft], read: list[EventDraft]) -> None:
    assert sorted(map(values, written), key=repr) == sorted(map(values, read), key=repr)


def roundtrip(export: Callable[..., None], importer: Callable[..., ImportResult], name: str,
              events: list[EventDraft], ctx: ExportContext, **kwargs: object) -> list[EventDraft]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        export(events, path, ctx)
        result = importer(path, **kwargs)
    assert [sort_key(e) for e in result.events] == sorted(sort_key(e) for e in result.events)
    return list(result.events)


# ---------------------------------------------------------------------------- exact formats


@SETTINGS
@given(EVENT_SETS)
def test_csv_roundtrip_is_exact(events: list[EventDraft]) -> None:
    same_events(events, roundtrip(export_csv, import_csv, "ev.csv", events, ExportContext()))


@SETTINGS
@given(st.lists(drafts(labels=LABELS.filter(lambda s: s != "n/a")), max_size=25))
def test_bids_tsv_roundtrip_is_exact(events: list[EventDraft]) -> None:
    same_events(events, roundtrip(export_bids_tsv, import_bids_tsv, "sub-01_events.tsv",
                                  events, ExportContext(fs=256.0)))


@SETTINGS
@given(EVENT_SETS)
def test_parquet_roundtrip_is_exact(events: list[EventDraft]) -> None:
    same_events(events, roundtrip(export_parquet, import_parquet, "ev.parquet", events,
                                  ExportContext()))


@SETTINGS
@given(EVENT_SETS)
def test_edf_annotations_roundtrip_is_exact(events: list[EventDraft]) -> None:
    ctx = ExportContext(start_time=datetime(2021, 5, 4, 23, 1, 2))
    same_events(events, roundtrip(export_edf_annotations, import_edf_annotations, "ev.edf",
                                  events, ctx))


# ------------------------------------------------------------------------------------ WFDB


def samples_of(e: EventDraft, fs: float) -> tuple[int, int]:
    return round(e.onset_s * fs), round((e.onset_s + e.duration_s) * fs)


@SETTINGS
@given(st.lists(drafts(labels=st.text(LABEL_CHARS, min_size=1, max_size=8).map(str.strip)
                       .filter(bool), confidences=st.none()), max_size=30),
       st.sampled_from([100.0, 128.0, 250.0, 256.0, 360.0, 500.0, 1000.0]))
def test_wfdb_roundtrip_keeps_samples_labels_categories_channels(
        events: list[EventDraft], fs: float) -> None:
    read = roundtrip(export_wfdb, import_wfdb, "rec.atr", events, ExportContext(fs=fs))

    def key(e: EventDraft) -> tuple[object, ...]:
        return (*samples_of(e, fs), e.label, e.category, e.channels)

    assert sorted(map(key, events), key=repr) == sorted(map(key, read), key=repr)
    for e in read:
        assert e.onset_s * fs == pytest.approx(round(e.onset_s * fs), abs=1e-6)
    by_key = {key(e): e for e in read}
    for e in events:
        assert abs(by_key[key(e)].onset_s - e.onset_s) <= 0.5 / fs + 1e-9


def test_wfdb_export_reads_back_with_rdann(tmp_path: Path) -> None:
    import wfdb

    events = [
        EventDraft(0.0, 10.0, "AFIB", "rhythm"), EventDraft(10.0, 5.0, "N", "rhythm"),
        EventDraft(20.0, 5.0, "VT", "rhythm"), EventDraft(1.0, 0.0, "N", "beat"),
        EventDraft(2.0, 0.0, "X", "beat"), EventDraft(3.0, 0.0, "V", "beat"),
        EventDraft(4.0, 0.0, "tape slipped", "other"), EventDraft(5.0, 0.0, "~", "other"),
        EventDraft(6.0, 30.0, "N2", "sleep_stage"),
    ]
    export_wfdb(events, tmp_path / "100.atr", ExportContext(fs=360.0))
    ann = wfdb.rdann(str(tmp_path / "100"), "atr")
    assert ann.fs == 360
    got = list(zip(ann.sample.tolist(), ann.symbol, ann.aux_note, strict=True))
    assert (0, "+", "(AFIB") in got
    assert (3600, "+", "(N") in got  # contiguous: no close between AFIB and N
    assert (5400, "+", "N)") in got  # gap before VT: explicit close
    assert (7200, "+", "(VT") in got and (9000, "+", "VT)") in got
    assert (360, "N", "") in got and (1080, "V", "") in got
    assert (720, "X", "") in got  # custom beat label, defined in the file
    assert (1440, '"', "tape slipped") in got and (1800, "~", "") in got
    stage = [a for s, sym, a in got if s == 2160]
    assert json.loads(stage[0]) == {"c": "sleep_stage", "l": "N2", "ch": [], "stop": 12960}
    assert "X" in set(ann.custom_labels["symbol"])
    assert not ann.chan.any()  # no event names a channel


def test_wfdb_channels_use_chan_and_all_channels_255(tmp_path: Path) -> None:
    import wfdb

    events = [EventDraft(1.0, 0.0, "N", "beat", (1,)), EventDraft(2.0, 0.0, "N", "beat"),
              EventDraft(3.0, 0.0, "V", "beat", (0,))]
    export_wfdb(events, tmp_path / "r.atr", ExportContext(fs=250.0))
    assert wfdb.rdann(str(tmp_path / "r"), "atr").chan.tolist() == [1, 255, 0]
    read = import_wfdb(tmp_path / "r.atr").events
    assert [e.channels for e in read] == [(1,), (), (0,)]


def test_wfdb_overlapping_rhythms_roundtrip(tmp_path: Path) -> None:
    events = [EventDraft(0.0, 100.0, "AFIB", "rhythm"), EventDraft(10.0, 10.0, "AFIB", "rhythm"),
              EventDraft(15.0, 30.0, "VT", "rhythm"), EventDraft(100.0, 0.0, "N", "rhythm"),
              EventDraft(100.0, 50.0, "N", "rhythm")]
    export_wfdb(events, tmp_path / "r.atr", ExportContext(fs=100.0))
    same_events(events, import_wfdb(tmp_path / "r.atr").events)


def test_wfdb_empty_export_reads_back_empty(tmp_path: Path) -> None:
    export_wfdb([], tmp_path / "r.atr", ExportContext(fs=100.0))
    assert import_wfdb(tmp_path / "r.atr", fs=100.0).events == []


# -------------------------------------------------------------------------------- EDF+ / mne


def test_edf_export_reads_back_with_mne(tmp_path: Path) -> None:
    import mne

    events = [EventDraft(0.0, 30.0, "W", "sleep_stage"),
              EventDraft(30.0, 30.0, "N2", "sleep_stage"),
              EventDraft(31.25, 0.8, "spindle", "spindle", (2,), 0.91),
              EventDraft(40.5, 0.0, "Lights off", "other")]
    path = tmp_path / "ann.edf"
    export_edf_annotations(events, path, ExportContext(start_time=datetime(2020, 1, 2, 22, 0)))
    ann = mne.read_annotations(path)
    assert ann.onset.tolist() == [0.0, 30.0, 31.25, 40.5]
    assert ann.duration.tolist() == [30.0, 30.0, 0.8, 0.0]
    assert list(ann.description) == [
        "Sleep stage W", "Sleep stage N2",
        "wavescore:category=spindle;label=spindle;channels=2;confidence=0.91", "Lights off"]


# ------------------------------------------------------------------------------- hypnogram


@SETTINGS
@given(st.lists(st.sampled_from(["W", "N1", "N2", "N3", "R", "?"]), min_size=1, max_size=200),
       st.sampled_from([30.0, 20.0, 5.0, 4.0]))
def test_hypnogram_roundtrip_is_exact(stages: list[str], epoch_s: float) -> None:
    events = [EventDraft(i * epoch_s, epoch_s, s, "sleep_stage") for i, s in enumerate(stages)]
    events.append(EventDraft(3.0, 0.0, "N", "beat"))  # not a stage: ignored
    read = roundtrip(export_hypnogram, import_hypnogram, "hyp.txt", events,
                     ExportContext(epoch_s=epoch_s), epoch_s=epoch_s)
    same_events(events[:-1], read)


def test_hypnogram_multi_epoch_events_and_gaps_become_epoch_lines(tmp_path: Path) -> None:
    events = [EventDraft(0.0, 90.0, "W", "sleep_stage"),
              EventDraft(120.0, 30.0, "N1", "sleep_stage")]
    export_hypnogram(events, tmp_path / "h.txt", ExportContext(epoch_s=30.0))
    assert (tmp_path / "h.txt").read_text() == "W\nW\nW\n?\nN1\n"


# ------------------------------------------------------------------ full-fidelity Parquet


def stored_event(i: int, tz: bool) -> Event:
    t0 = datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=UTC if tz else None)
    return Event(
        event_id=100 + i, recording_id="r0123456789ab", onset_s=1.5 * i, duration_s=0.25,
        label="spindle", category="spindle", channels=(0, 3) if i % 2 else (),
        source=EventSource.DETECTOR if i % 2 else EventSource.HUMAN,
        status=EventStatus.CONFIRMED if i % 3 else EventStatus.PROPOSED,
        confidence=0.5 + i / 100 if i % 2 else None, run_id=7 if i % 2 else None,
        import_ref={"format": "csv", "line": i} if i == 4 else None,
        schema_name="wavescore", schema_version=1, created_by="ana",
        created_at=t0 + timedelta(seconds=i), updated_by="ben",
        updated_at=t0 + timedelta(minutes=i), version=i + 1, deleted=i == 5,
        extra={"note": "é"} if i == 2 else {},
    )


@pytest.mark.parametrize("tz", [False, True], ids=["naive", "utc"])
def test_parquet_keeps_every_stored_field(tmp_path: Path, tz: bool) -> None:
    events = [stored_event(i, tz) for i in range(6)]
    path = tmp_path / "ev.parquet"
    export_parquet(events, path, ExportContext(recording_id="r0123456789ab", fs=256.0))
    assert read_events_parquet(path) == events
    imported = import_parquet(path).events
    same_events([e.to_draft() for e in events], imported)
    ref = imported[1].import_ref
    assert ref is not None
    assert ref["original"]["status"] == "confirmed"
    assert ref["original"]["event_id"] == 101
    assert ref["original"]["created_at"] == events[1].created_at.isoformat()


def test_csv_keeps_stored_fields_as_original(tmp_path: Path) -> None:
    events = [stored_event(i, False) for i in range(6)]
    path = tmp_path / "ev.csv"
    export_csv(events, path, ExportContext(channel_names=("C3", "C4", "O1", "O2")))
    imported = import_csv(path).events
    same_events([e.to_draft() for e in events], imported)
    ref = imported[4].import_ref
    assert ref is not None and ref["line"] == 6
    assert ref["original"]["import_ref"] == {"format": "csv", "line": 4}
    assert ref["original"]["status"] == "confirmed"
    assert import_csv(path).events[1].import_ref["original"]["channel_names"] == "C3;O2"  # type: ignore[index]


def test_bids_sidecar_describes_every_column_with_levels(tmp_path: Path) -> None:
    events: list[Event | EventDraft] = [
        stored_event(1, False), EventDraft(0.0, 30.0, "N2", "sleep_stage"),
              EventDraft(1.0, 0.0, "N", "beat"), EventDraft(2.0, 5.0, "N", "rhythm")]
    path = tmp_path / "sub-01_task-sleep_events.tsv"
    export_bids_tsv(events, path, ExportContext(fs=256.0, channel_names=("C3", "C4", "O1", "O2")))
    header = path.read_text().splitlines()[0].split("\t")
    side = json.loads(sidecar_path(path).read_text())
    assert header[:3] == ["onset", "duration", "trial_type"]
    assert set(side) == set(header)
    assert side["onset"]["Units"] == "s"
    assert side["trial_type"]["Levels"]["N2"] == "sleep_stage: NREM stage 2"
    assert side["trial_type"]["Levels"]["N"] == "beat: normal beat; rhythm: normal sinus rhythm"
    assert side["channels"]["Levels"]["2"] == "O1"
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    assert rows[0][header.index("confidence")] == "n/a"
    spindle = next(r for r in rows if r[0] == "1.5")
    assert spindle[header.index("sample")] == str(round(1.5 * 256))
    assert spindle[header.index("channel_names")] == "C3;O2"
    assert spindle[header.index("status")] == "confirmed"


# ---------------------------------------------------------------------- third-party files


@pytest.mark.shared_data
def test_sleep_edf_hypnogram_maps_rk_stages() -> None:
    path = need_shared("sleep-edf", "SC4001EC-Hypnogram.edf")
    result = import_edf_annotations(path)
    counts = collections.Counter(e.label for e in result.events)
    assert counts == {"N3": 48 + 23, "N2": 40, "N1": 24, "W": 12, "R": 6, "?": 1}
    assert {e.category for e in result.events} == {"sleep_stage"}
    s4 = [e for e in result.events if e.import_ref and e.import_ref.get("original_label")
          == "Sleep stage 4"]
    assert len(s4) == 23 and all(e.label == "N3" for e in s4)
    last = result.events[-1]
    assert last.onset_s + last.duration_s == 86400.0  # the hypnogram covers the whole day
    assert result.warnings == []


@pytest.mark.shared_data
def test_hmc_scoring_imports_stages_and_channel_marks() -> None:
    path = need_shared("hmc-sleep", "test_edfann.edf")
    result = import_edf_annotations(path, channel_names=("EEG F4-A1", "EEG C4-A1",
                                                         "EEG Fpz-Cz"))
    stages = [e for e in result.events if e.category == "sleep_stage"]
    assert len(stages) == 854 and {e.duration_s for e in stages} == {30.0}
    others = [e for e in result.events if e.category == "other"]
    assert [(e.label, e.channels) for e in others] == [("Lights off", (0,)),
                                                       ("Lights on", (2,))]


@pytest.mark.shared_data
@pytest.mark.parametrize("excerpt", [1, 3])
def test_dreams_hypnogram_uses_rk_5s_codes(excerpt: int) -> None:
    path = need_shared("dreams-spindles", f"Hypnogram_excerpt{excerpt}.txt")
    codes = [ln.strip() for ln in path.read_text().splitlines()[1:] if ln.strip()]
    result = import_hypnogram(path, epoch_s=5.0)
    assert len(result.events) == len(codes) == 360
    expect = {"5": "W", "4": "R", "3": "N1", "2": "N2", "1": "N3", "0": "N3"}
    assert [e.label for e in result.events] == [expect[c] for c in codes]
    assert result.events[-1].onset_s == 1795.0


@pytest.mark.shared_data
def test_mitdb_201_rhythms_match_the_recording_reader_and_roundtrip(tmp_path: Path) -> None:
    import signal_io

    path = need_shared("mitdb", "201.atr")
    result = import_wfdb(path)
    rec = signal_io.open_recording(path.with_suffix(".hea"))
    ref = sorted((a.onset_s, a.duration_s, a.label) for a in rec.annotations()
                 if a.kind == "rhythm")
    got = sorted((e.onset_s, e.duration_s, e.label) for e in result.events
                 if e.category == "rhythm")
    assert len(got) == len(ref) == 35
    assert np.allclose([g[:2] for g in got], [r[:2] for r in ref], atol=1e-9)
    assert [g[2] for g in got] == [r[2] for r in ref]
    beats = [a for a in rec.annotations() if a.kind == "beat"]
    assert sum(e.category == "beat" for e in result.events) == len(beats)
    # our export of the imported events reads back to the same samples
    export_wfdb(result.events, tmp_path / "201.atr", ExportContext(fs=360.0))
    again = import_wfdb(tmp_path / "201.atr").events
    assert [(*samples_of(e, 360.0), e.label, e.category) for e in again] == \
        [(*samples_of(e, 360.0), e.label, e.category) for e in result.events]


@pytest.mark.shared_data
def test_chbmit_seizures_file_gives_seizure_episodes() -> None:
    path = need_shared("chbmit", "annotations-only", "chb06_04.edf.seizures")
    result = import_wfdb(path, fs=256.0)
    assert [(e.onset_s, e.duration_s, e.category) for e in result.events] == [
        (327.0, 20.0, "seizure"), (6211.0, 20.0, "seizure")]


def test_edf_import_shifts_onsets_to_the_recording_start(tmp_path: Path) -> None:
    path = tmp_path / "hyp.edf"
    export_edf_annotations([EventDraft(0.0, 30.0, "W", "sleep_stage")], path,
                           ExportContext(start_time=datetime(2020, 1, 1, 23, 0, 30)))
    result = import_edf_annotations(path, recording_start_time=datetime(2020, 1, 1, 23, 0, 0))
    assert [(e.onset_s, e.label) for e in result.events] == [(30.0, "W")]
