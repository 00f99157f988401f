"""Malformed files raise ImportFormatError naming the file and the line or field; exporters refuse
events a format cannot hold and leave no file behind."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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
)
from server.interchange.edf_ann import _header
from store._event_types import EventDraft
from store.errors import ExportFormatError, ImportFormatError, StoreError

IMPORTERS: dict[str, tuple[Callable[..., ImportResult], str]] = {
    "csv": (import_csv, "ev.csv"),
    "bids-tsv": (import_bids_tsv, "ev_events.tsv"),
    "parquet": (import_parquet, "ev.parquet"),
    "edf+": (import_edf_annotations, "ev.edf"),
    "wfdb": (import_wfdb, "ev.atr"),
    "hypnogram": (import_hypnogram, "hyp.txt"),
}


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_import_format_error_is_a_store_error_and_a_value_error() -> None:
    assert issubclass(ImportFormatError, StoreError)
    assert issubclass(ImportFormatError, ValueError)
    assert issubclass(ExportFormatError, StoreError)


@pytest.mark.parametrize("fmt", sorted(IMPORTERS))
def test_empty_file_is_refused_naming_the_file(tmp_path: Path, fmt: str) -> None:
    importer, name = IMPORTERS[fmt]
    path = write(tmp_path, name, b"")
    with pytest.raises(ImportFormatError, match=r"ev|hyp") as info:
        importer(path)
    assert str(path) in str(info.value) and "empty" in str(info.value)


@pytest.mark.parametrize("fmt", sorted(IMPORTERS))
def test_missing_file_is_refused(tmp_path: Path, fmt: str) -> None:
    importer, name = IMPORTERS[fmt]
    with pytest.raises(ImportFormatError, match="no such file"):
        importer(tmp_path / name)


@pytest.mark.parametrize("fmt", ["parquet", "edf+", "wfdb"])
def test_random_bytes_are_refused_for_binary_formats(tmp_path: Path, fmt: str) -> None:
    importer, name = IMPORTERS[fmt]
    rng = np.random.default_rng(7)
    path = write(tmp_path, name, rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(ImportFormatError) as info:
        importer(path, **({"fs": 250.0} if fmt == "wfdb" else {}))
    assert str(path) in str(info.value)


# ------------------------------------------------------------------------------------- CSV


CSV_HEAD = "onset_s,duration_s,label,category,channels,confidence\n"


@pytest.mark.parametrize(("body", "pattern"), [
    ("onset,duration,label\n1,2,N\n", r"line 1: .*lacks the column\(s\) onset_s, duration_s, "
                                      r"category"),
    (CSV_HEAD + "1.0,0,N,beat,,\nabc,0,N,beat,,\n", r"line 3: onset_s 'abc' is not a number"),
    (CSV_HEAD + "1.0,-2,N,beat,,\n", r"line 2: duration -2.0 s must be"),
    (CSV_HEAD + "-1.0,2,N,beat,,\n", r"line 2: onset -1.0 s must be"),
    (CSV_HEAD + "1.0,nan,N,beat,,\n", r"line 2: duration_s 'nan' is not a finite number"),
    (CSV_HEAD + "1.0,0,N,heartbeat,,\n", r"line 2: category 'heartbeat' is not one of"),
    (CSV_HEAD + "1.0,0,N,beat\n", r"line 2: 4 fields where the header has 6"),
    (CSV_HEAD + "1.0,0,,beat,,\n", r"line 2: the label is empty"),
    (CSV_HEAD + "1.0,0,N,beat,0;x,\n", r"line 2: channel 'x' is neither"),
    (CSV_HEAD + "1.0,0,N,beat,1;1,\n", r"line 2: channel list '1;1' repeats"),
    (CSV_HEAD + "1.0,0,N,beat,,1.5\n", r"line 2: confidence 1.5 must lie in \[0, 1\]"),
    (CSV_HEAD + '1.0,0,"N,beat,,\n', r"line \d+: .*(quote|end of data|fields)"),
])
def test_csv_errors_name_the_line(tmp_path: Path, body: str, pattern: str) -> None:
    path = write(tmp_path, "ev.csv", body)
    with pytest.raises(ImportFormatError, match=pattern) as info:
        import_csv(path)
    assert str(path) in str(info.value)


def test_csv_in_latin1_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    text = CSV_HEAD + "1.0,0,N,beat,,\n2.0,0,réveil,other,,\n"
    path = write(tmp_path, "ev.csv", text.encode("latin-1"))
    with pytest.raises(ImportFormatError, match=r"line 3: byte 0xe9 .* not UTF-8"):
        import_csv(path)


def test_utf16_text_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "ev.csv", (CSV_HEAD + "1.0,0,N,beat,,\n").encode("utf-16"))
    with pytest.raises(ImportFormatError, match=r"not UTF-8|NUL byte"):
        import_csv(path)


def test_csv_with_one_bad_row_at_the_end_imports_nothing(tmp_path: Path) -> None:
    rows = "".join(f"{i * 0.8},0,N,beat,,\n" for i in range(1000))
    path = write(tmp_path, "ev.csv", CSV_HEAD + rows + "1e3,-1,N,beat,,\n")
    with pytest.raises(ImportFormatError, match="line 1002"):
        import_csv(path)


def test_csv_header_only_imports_no_event(tmp_path: Path) -> None:
    assert import_csv(write(tmp_path, "ev.csv", CSV_HEAD)).events == []


def test_csv_channel_names_resolve_with_the_recording_channels(tmp_path: Path) -> None:
    path = write(tmp_path, "ev.csv", CSV_HEAD + "1.0,0,spindle,spindle,C4;C3,\n")
    result = import_csv(path, channel_names=("C3", "C4"))
    assert result.events[0].channels == (0, 1)


# -------------------------------------------------------------------------------- BIDS TSV


TSV_HEAD = "onset\tduration\ttrial_type\n"


@pytest.mark.parametrize(("body", "pattern"), [
    ("onset\tduration\tvalue\n1\t2\tN\n", r"line 1: .*lacks the column\(s\) trial_type"),
    (TSV_HEAD + "n/a\t1\tN\n", r"line 2: onset is missing"),
    (TSV_HEAD + "1\t1\tn/a\n", r"line 2: trial_type is missing"),
    (TSV_HEAD + "1\t-1\tN\n", r"line 2: duration -1.0 s must be"),
    (TSV_HEAD + "1\tlong\tN\n", r"line 2: duration 'long' is not a number"),
    (TSV_HEAD + "1\t1\n", r"line 2: 2 fields where the header has 3"),
])
def test_bids_tsv_errors_name_the_line(tmp_path: Path, body: str, pattern: str) -> None:
    with pytest.raises(ImportFormatError, match=pattern):
        import_bids_tsv(write(tmp_path, "ev_events.tsv", body))


def test_third_party_bids_events_read_with_default_category(tmp_path: Path) -> None:
    body = "onset\tduration\ttrial_type\tresponse_time\n1.5\tn/a\tgo\t0.4\n0.5\t2\tstop\tn/a\n"
    result = import_bids_tsv(write(tmp_path, "ev_events.tsv", body))
    assert [(e.onset_s, e.duration_s, e.label, e.category) for e in result.events] == [
        (0.5, 2.0, "stop", "other"), (1.5, 0.0, "go", "other")]
    assert result.events[1].import_ref is not None
    assert result.events[1].import_ref["original"] == {"response_time": "0.4"}
    assert result.warnings == ["1 event(s) with duration n/a were read as instantaneous "
                               "(duration 0)"]


# --------------------------------------------------------------------------------- Parquet


def test_parquet_missing_columns_and_wrong_types_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"onset_s": [1.0], "label": ["N"]}), path)
    with pytest.raises(ImportFormatError, match="duration_s, category are missing"):
        import_parquet(path)
    pq.write_table(pa.table({"onset_s": ["1.0"], "duration_s": [0.0], "label": ["N"],
                             "category": ["beat"]}), path)
    with pytest.raises(ImportFormatError, match="column onset_s has type string"):
        import_parquet(path)
    pq.write_table(pa.table({"onset_s": [1.0, None], "duration_s": [0.0, 0.0],
                             "label": ["N", "N"], "category": ["beat", "beat"]}), path)
    with pytest.raises(ImportFormatError, match="row 1: onset_s is null"):
        import_parquet(path)


def test_truncated_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ev.parquet"
    export_parquet([EventDraft(1.0, 0.0, "N", "beat")] * 50, path, ExportContext())
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ImportFormatError, match="not a readable Parquet file"):
        import_parquet(path)


# ------------------------------------------------------------------------------------ EDF+


def test_truncated_edf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ev.edf"
    events = [EventDraft(i * 30.0, 30.0, "W", "sleep_stage") for i in range(100)]
    export_edf_annotations(events, path, ExportContext(start_time=datetime(2020, 1, 1)))
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(ImportFormatError, match=r"ev\.edf: cannot read as EDF\+"):
        import_edf_annotations(path)


def test_header_only_edf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ev.edf"
    export_edf_annotations([EventDraft(0.0, 30.0, "W", "sleep_stage")], path, ExportContext())
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImportFormatError, match="cannot read as EDF"):
        import_edf_annotations(path)


@pytest.mark.parametrize(("text", "pattern"), [
    ("wavescore:category=beat", r"annotation 0 \(onset 1.0 s\): malformed .*KeyError"),
    ("wavescore:category=beat;label=N;channels=a", r"malformed .*ValueError"),
    ("wavescore:nonsense", r"malformed wavescore annotation"),
    ("wavescore:category=heart;label=N", r"category 'heart' is not one of"),
])
def test_garbled_wavescore_edf_text_names_the_annotation(tmp_path: Path, text: str,
                                                        pattern: str) -> None:
    body = b"+0\x14\x14\x00+1\x14" + text.encode() + b"\x14\x00"
    body += b"\x00" * (len(body) % 2)
    path = write(tmp_path, "ev.edf", _header(len(body), None) + body)
    with pytest.raises(ImportFormatError, match=pattern):
        import_edf_annotations(path)


def test_plain_edf_without_annotations_is_refused(tmp_path: Path) -> None:
    from signal_io.edf_writer import EdfSignal, write_edf

    path = tmp_path / "ev.edf"
    write_edf(path, [EdfSignal("EEG", np.zeros(100), 100.0)], datetime(2020, 1, 1))
    raw = bytearray(path.read_bytes())
    raw[192:197] = b"     "  # reserved field: "EDF+C" -> plain EDF
    path.write_bytes(bytes(raw))
    with pytest.raises(ImportFormatError, match="holds no annotations"):
        import_edf_annotations(path)


# ------------------------------------------------------------------------------------ WFDB


def test_wfdb_without_any_rate_is_refused(tmp_path: Path) -> None:
    import wfdb

    wfdb.wrann("rec", "atr", np.array([10, 20]), ["N", "N"], write_dir=str(tmp_path))
    with pytest.raises(ImportFormatError, match="pass the sampling rate"):
        import_wfdb(tmp_path / "rec.atr")
    assert len(import_wfdb(tmp_path / "rec.atr", fs=100.0).events) == 2


def test_wfdb_garbled_generic_annotation_names_it(tmp_path: Path) -> None:
    path = tmp_path / "rec.atr"
    export_wfdb([EventDraft(1.0, 30.0, "N2", "sleep_stage")], path, ExportContext(fs=100.0))
    raw = path.read_bytes().replace(b'"stop"', b'"STOP"')
    path.write_bytes(raw)
    with pytest.raises(ImportFormatError, match=r"annotation 0 \(sample 100\): malformed"):
        import_wfdb(path)


def test_wfdb_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rec.atr"
    events = [EventDraft(i * 0.8, 0.0, "N", "beat") for i in range(200)]
    export_wfdb(events, path, ExportContext(fs=360.0))
    path.write_bytes(path.read_bytes()[:301])  # odd length: cut inside a 16-bit word
    with pytest.raises(ImportFormatError, match=r"rec\.atr"):
        import_wfdb(path)


# ------------------------------------------------------------------------------- hypnogram


@pytest.mark.parametrize(("body", "kwargs", "pattern"), [
    ("0\n1\n2\n", {}, r"numeric stage codes.*pass codes="),
    ("W\nN2 N3\n", {}, r"line 2: 'N2 N3' holds 2 values"),
    ("0\n7\n", {"codes": "rk"}, r"line 2: '7' is not a rk stage code"),
    ("W\nN2\n", {"codes": "dreams"}, r"line 1: 'W' is not a dreams stage code"),
    ("W\n3.5\n", {}, r"line 2: '3.5' is not a stage label"),
    ("# only a comment\n\n", {}, r"no stage lines"),
    ("W\n", {"epoch_s": 0.0}, r"epoch length 0.0 s must be a positive"),
])
def test_hypnogram_errors_name_the_line(tmp_path: Path, body: str,
                                        kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ImportFormatError, match=pattern):
        import_hypnogram(write(tmp_path, "hyp.txt", body), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("codes", "body", "labels"), [
    ("rk", "0\n1\n2\n3\n4\n5\n6\n", ["W", "N1", "N2", "N3", "N3", "R", "?"]),
    ("aasm", "0\n1\n2\n3\n4\n-1\n", ["W", "N1", "N2", "N3", "R", "?"]),
    ("auto", "wake\nS1\nS4\nREM\nMT\nNREM\n", ["W", "N1", "N3", "R", "?", "NREM"]),
])
def test_hypnogram_codings_map_as_documented(tmp_path: Path, codes: str, body: str,
                                             labels: list[str]) -> None:
    result = import_hypnogram(write(tmp_path, "hyp.txt", body), epoch_s=30.0,
                              codes=codes)  # type: ignore[arg-type]
    assert [e.label for e in result.events] == labels
    assert [e.onset_s for e in result.events] == [30.0 * i for i in range(len(labels))]


# --------------------------------------------------------------------------------- exports


def test_exporters_refuse_invalid_events_and_write_nothing(tmp_path: Path) -> None:
    bad = [EventDraft(-1.0, 0.0, "N", "beat")]
    for export, name in [(export_csv, "a.csv"), (export_bids_tsv, "a_events.tsv"),
                         (export_parquet, "a.parquet"), (export_edf_annotations, "a.edf"),
                         (export_wfdb, "a.atr"), (export_hypnogram, "a.txt")]:
        with pytest.raises(ExportFormatError, match=r"onset_s -1\.0"):
            export(bad, tmp_path / name, ExportContext(fs=100.0))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("events", "ctx", "pattern"), [
    ([EventDraft(0.0, 30.0, "W", "sleep_stage"), EventDraft(0.0, 30.0, "N1", "sleep_stage")],
     ExportContext(), r"epoch 0 \(0.0 s\) has two stages"),
    ([EventDraft(15.0, 30.0, "W", "sleep_stage")], ExportContext(), r"not a whole number"),
    ([EventDraft(0.0, 30.0, "N 2", "sleep_stage")], ExportContext(), r"label 'N 2'"),
    ([EventDraft(0.0, 0.0, "N", "beat")], ExportContext(), r"no sleep_stage events"),
])
def test_hypnogram_export_refuses_what_it_cannot_write(tmp_path: Path, events: list[EventDraft],
                                                       ctx: ExportContext, pattern: str) -> None:
    with pytest.raises(ExportFormatError, match=pattern):
        export_hypnogram(events, tmp_path / "h.txt", ctx)
    assert not (tmp_path / "h.txt").exists()


def test_wfdb_export_needs_fs_and_a_record_name(tmp_path: Path) -> None:
    ev = [EventDraft(0.0, 0.0, "N", "beat")]
    with pytest.raises(ExportFormatError, match="sampling rate"):
        export_wfdb(ev, tmp_path / "r.atr", ExportContext())
    with pytest.raises(ExportFormatError, match=r"RECORD\.EXT"):
        export_wfdb(ev, tmp_path / "r.at1", ExportContext(fs=100.0))
    with pytest.raises(ExportFormatError, match="255"):
        export_wfdb([EventDraft(1.0, 1.0, "x" * 300, "seizure")], tmp_path / "r.atr",
                    ExportContext(fs=100.0))


def test_bids_export_refuses_na_labels_and_control_characters(tmp_path: Path) -> None:
    with pytest.raises(ExportFormatError, match="'n/a' would read back"):
        export_bids_tsv([EventDraft(0.0, 0.0, "n/a", "other")], tmp_path / "a_events.tsv")
    with pytest.raises(ExportFormatError, match="control character"):
        export_csv([EventDraft(0.0, 0.0, "a\tb", "other")], tmp_path / "a.csv")
    assert os.listdir(tmp_path) == []
