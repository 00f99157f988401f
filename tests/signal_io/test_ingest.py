"""Ingest to the stored form: exact copy, pyramids, atomicity, hashing, and reading it back."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from signal_io import (
    Annotation,
    ChannelInfo,
    ChannelKind,
    ChannelNotFoundError,
    CorruptRecordingError,
    HeaderFields,
    IngestError,
    Recording,
    RecordingNotFoundError,
    Segment,
    open_recording,
)
from signal_io.edf_writer import EdfSignal, write_edf
from signal_io.ingest import (
    META_SCHEMA,
    clean_stale_tmp,
    content_sha256,
    hash_files,
    ingest_recording,
    remove_stored,
)
from signal_io.pyramid import Envelope, RawWindow
from signal_io.stored import open_stored


class ArrayRecording(Recording):
    """A recording held in memory, optionally failing after ``fail_after`` reads."""

    def __init__(self, arrays: list[NDArray[np.float32]], fs: list[float], *,
                 fail_after: int | None = None, exc: BaseException | None = None,
                 short_read: bool = False, declared: list[int] | None = None) -> None:
        self.path = Path("/virtual/rec.edf")
        self.source_files = [self.path]
        self.format = "edf+c"
        self.channels = [
            ChannelInfo(i, f"EEG C{i}", ChannelKind.EEG, "uV", f,
                        declared[i] if declared else len(a))
            for i, (a, f) in enumerate(zip(arrays, fs, strict=True))
        ]
        self.start_time = datetime(2020, 5, 1, 22, 15, 0)
        self.header = HeaderFields(patient="X X X X")
        self.segments = [Segment(0.0, max(len(a) / f for a, f in zip(arrays, fs, strict=True)))]
        self._arrays = arrays
        self._fail_after = fail_after
        self._exc = exc
        self._short = short_read
        self.reads = 0

    def _read(self, ch: ChannelInfo, start: int, stop: int) -> NDArray[np.float32]:
        self.reads += 1
        if self._fail_after is not None and self.reads > self._fail_after:
            raise self._exc or OSError("simulated disk error")
        out = self._arrays[ch.index][start:stop]
        return out[:-1] if self._short and out.size > 1 else out

    def annotations(self) -> list[Annotation]:
        return [Annotation(10.0, 30.0, "Sleep stage N2", "stage")]


def _arrays(seed: int = 0) -> tuple[list[NDArray[np.float32]], list[float]]:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 30, 256 * 300).astype(np.float32)
    a[1000:1500] = np.nan  # a gap
    b = rng.normal(0, 1, 100 * 300 + 7).astype(np.float32)
    return [a, b], [256.0, 100.0]


def _ingest(rec: Recording, root: Path, **kw: object) -> Path:
    res = ingest_recording(rec, root, recording_id="rabc", content_sha256="0" * 64,
                           source_files_sha256=["1" * 64], shift_days=-1000, **kw)  # type: ignore[arg-type]
    return res.path


@pytest.mark.parametrize("chunk_samples", [1, 997, 1 << 21])
def test_stored_raw_equals_source_samples_for_any_chunking(
    tmp_path: Path, chunk_samples: int
) -> None:
    arrays, fs = _arrays()
    calls: list[tuple[int, int, int]] = []
    path = _ingest(ArrayRecording(arrays, fs), tmp_path,
                   chunk_samples=chunk_samples,
                   progress=lambda c, d, t: calls.append((c.index, d, t)))
    s = open_stored(path)
    for i, a in enumerate(arrays):
        np.testing.assert_array_equal(s.raw(i), a)
        assert s.raw(i).dtype == np.float32
    done = [d for _, d, _ in calls]
    assert done == sorted(done) and done[-1] == calls[-1][2] == sum(a.size for a in arrays)
    assert {c for c, _, _ in calls} == {0, 1}


def test_pyramid_envelope_matches_full_scan_of_raw(tmp_path: Path) -> None:
    arrays, fs = _arrays()
    s = open_stored(_ingest(ArrayRecording(arrays, fs), tmp_path, chunk_samples=4096))
    env = s.window(0, 17, arrays[0].size - 5, px=300)
    assert isinstance(env, Envelope)
    for lo, hi, mn, mx in zip(env.edges[:-1], env.edges[1:], env.mins, env.maxs, strict=True):
        seg = arrays[0][lo:hi]
        if np.isnan(seg).all():
            assert np.isnan(mn) and np.isnan(mx)
        else:
            assert mn == np.nanmin(seg) and mx == np.nanmax(seg)
    raw = s.window(1, 100, 160, px=30)
    assert isinstance(raw, RawWindow)
    np.testing.assert_array_equal(raw.samples, arrays[1][100:160])


def test_meta_and_annotations_describe_the_recording(tmp_path: Path) -> None:
    arrays, fs = _arrays()
    s = open_stored(_ingest(ArrayRecording(arrays, fs), tmp_path))
    assert s.meta["schema"] == META_SCHEMA
    assert s.recording_id == "rabc" and s.format == "edf+c"
    assert s.start_time == datetime(2017, 8, 5, 22, 15, 0)  # 1000 days back, same clock time
    assert [(c.name, c.fs, c.n_samples) for c in s.channels] == [
        ("EEG C0", 256.0, arrays[0].size), ("EEG C1", 100.0, arrays[1].size)]
    assert s.duration_s == pytest.approx(300.07)
    assert s.annotations() == [Annotation(10.0, 30.0, "Sleep stage N2", "stage")]
    assert s.deid_report()["schema"] == "wavescore.deid/1"
    assert s.meta["source_sha256"] == "0" * 64
    assert sorted(p.name for p in s.path.iterdir()) == [
        "annotations.json", "ch000.f32", "ch000.pyr", "ch001.f32", "ch001.pyr",
        "deid_report.json", "meta.json"]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [(OSError("simulated disk error"), CorruptRecordingError),
     (ValueError("bad digital value"), CorruptRecordingError),
     (CorruptRecordingError("truncated data", "/virtual/rec.edf"), CorruptRecordingError),
     (KeyboardInterrupt(), KeyboardInterrupt)],
)
def test_failure_mid_ingest_leaves_nothing_behind(
    tmp_path: Path, exc: BaseException, expected: type[BaseException]
) -> None:
    arrays, fs = _arrays()
    rec = ArrayRecording(arrays, fs, fail_after=5, exc=exc)
    with pytest.raises(expected):
        _ingest(rec, tmp_path, chunk_samples=2000)
    assert rec.reads > 5  # it really failed part-way, after writing some chunks
    assert list(tmp_path.iterdir()) == []


def test_reader_returning_too_few_samples_is_refused(tmp_path: Path) -> None:
    arrays, fs = _arrays()
    with pytest.raises(CorruptRecordingError, match="reader returned"):
        _ingest(ArrayRecording(arrays, fs, short_read=True), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_absurd_declared_length_fails_before_writing(tmp_path: Path) -> None:
    arrays, fs = _arrays()
    rec = ArrayRecording(arrays, fs, declared=[10**14, arrays[1].size])
    with pytest.raises(IngestError, match="GB free"):
        _ingest(rec, tmp_path)
    assert rec.reads == 0
    assert list(tmp_path.iterdir()) == []


def test_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    arrays, fs = _arrays()
    (tmp_path / "rabc").mkdir()
    (tmp_path / "rabc" / "keep").write_text("x")
    with pytest.raises(IngestError, match="already exists"):
        _ingest(ArrayRecording(arrays, fs), tmp_path)
    assert (tmp_path / "rabc" / "keep").read_text() == "x"


def test_stale_tmp_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    stale = tmp_path / f".tmp-rdead-{dead_pid}"
    live = tmp_path / f".tmp-rlive-{os.getpid()}"
    other = tmp_path / "rkeep"
    for d in (stale, live, other):
        d.mkdir()
        (d / "ch000.f32").write_bytes(b"\0" * 8)
    assert clean_stale_tmp(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()
    assert clean_stale_tmp(tmp_path / "missing") == []


def test_remove_stored_removes_folder(tmp_path: Path) -> None:
    arrays, fs = _arrays()
    path = _ingest(ArrayRecording(arrays, fs), tmp_path)
    remove_stored(path)
    remove_stored(path)
    assert list(tmp_path.iterdir()) == []


def _write_small_edf(path: Path, seed: int) -> None:
    x = np.random.default_rng(seed).normal(0, 10, 128 * 10)
    write_edf(path, [EdfSignal("EEG Cz", x, 128.0)], datetime(2020, 1, 1, 23, 0))


def test_content_hash_ignores_name_and_location_but_not_content(tmp_path: Path) -> None:
    a = tmp_path / "night.edf"
    _write_small_edf(a, 1)
    (tmp_path / "elsewhere").mkdir()
    b = tmp_path / "elsewhere" / "renamed.EDF"
    shutil.copyfile(a, b)
    c = tmp_path / "other.edf"
    _write_small_edf(c, 2)
    ha, hb, hc = (content_sha256(hash_files([p])) for p in (a, b, c))
    assert ha == hb != hc
    assert content_sha256(["x" * 64, "y" * 64]) == content_sha256(["y" * 64, "x" * 64])


def test_hashing_unreadable_file_raises_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="missing"):
        hash_files([tmp_path / "missing"])


def test_real_wfdb_record_round_trips_through_the_stored_form(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "server" / "sample_data" / "208.hea"
    with open_recording(src) as rec:
        digests = hash_files(rec.source_files)
        res = ingest_recording(rec, tmp_path, recording_id="r208", content_sha256=
                               content_sha256(digests), source_files_sha256=digests,
                               shift_days=-1000, chunk_samples=100_000)
        s = open_stored(res.path)
        for ch in rec.channels:
            np.testing.assert_array_equal(s.raw(ch.index), rec.read(ch.index))
        assert len(s.annotations()) == len(rec.annotations())
        assert [a.label for a in s.annotations()] == [a.label for a in rec.annotations()]


# ---------------------------------------------------------------------- open_stored checks


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    arrays, fs = _arrays()
    return _ingest(ArrayRecording(arrays, fs), tmp_path / "recordings")


def test_missing_folder_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(RecordingNotFoundError):
        open_stored(tmp_path / "nope")


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p: (p / "meta.json").unlink(), "missing a file"),
        (lambda p: (p / "meta.json").write_text("{not json"), "unreadable JSON"),
        (lambda p: (p / "meta.json").write_text('{"schema": "other/9"}'), "schema"),
        (lambda p: (p / "ch001.f32").unlink(), "channel file is missing"),
        (lambda p: os.truncate(p / "ch000.f32", 4000), "raw file holds 4000 bytes"),
        (lambda p: (p / "ch000.pyr").unlink(), "pyramid file is missing"),
        (lambda p: (p / "annotations.json").unlink(), "missing a file"),
    ],
)
def test_damaged_stored_recording_raises_corrupt_error_naming_file(
    stored: Path, damage: object, match: str
) -> None:
    damage(stored)  # type: ignore[operator]
    with pytest.raises(CorruptRecordingError, match=match) as info:
        open_stored(stored)
    assert info.value.path is not None and stored in (info.value.path, info.value.path.parent)


def test_damaged_pyramid_is_reported_on_use(stored: Path) -> None:
    (stored / "ch000.pyr").write_bytes(b"garbage" * 10)
    s = open_stored(stored)
    with pytest.raises(CorruptRecordingError):
        s.pyramid(0)


def test_bad_annotations_json_is_reported(stored: Path) -> None:
    (stored / "annotations.json").write_text(json.dumps({"schema": "x", "annotations": []}))
    with pytest.raises(CorruptRecordingError, match="schema"):
        open_stored(stored).annotations()


def test_channel_out_of_range_raises(stored: Path) -> None:
    s = open_stored(stored)
    with pytest.raises(ChannelNotFoundError):
        s.raw(2)
    with pytest.raises(ChannelNotFoundError):
        s.window(-1, 0, 10, 5)


@pytest.mark.shared_data
@pytest.mark.parametrize("folder", ["misc-edf", "misc-wfdb"])
def test_every_real_sample_file_round_trips(folder: str, tmp_path: Path) -> None:
    from signal_io import find_recordings
    from tests.conftest import need_shared

    files = find_recordings(need_shared(folder))
    assert files
    for src in files:
        with open_recording(src) as rec:
            digests = hash_files(rec.source_files)
            res = ingest_recording(rec, tmp_path, recording_id=f"r{src.stem.lower()}",
                                   content_sha256=content_sha256(digests),
                                   source_files_sha256=digests, shift_days=-1000)
            s = open_stored(res.path)
            assert [(c.name, c.fs, c.n_samples) for c in s.channels] == [
                (c.name, c.fs, c.n_samples) for c in rec.channels]
            for ch in rec.channels:
                np.testing.assert_array_equal(s.raw(ch.index), rec.read(ch.index))
            anns = rec.annotations()
            assert [(a.onset_s, a.duration_s) for a in s.annotations()] == [
                (a.onset_s, a.duration_s) for a in anns], src
            if rec.start_time is not None:
                assert s.start_time is not None
                assert s.start_time.time() == rec.start_time.time()
                assert (rec.start_time - s.start_time).days == 1000
