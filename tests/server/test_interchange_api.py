"""``POST /api/recordings/{id}/import`` and ``GET``/``POST /api/recordings/{id}/export``.

Round trips over the API for every format (export from one recording, import into a fresh one,
read back the same events), all-or-nothing imports with the line at fault named, permissions,
file names, content types, audit entries and duplicate refusal.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from server.services.interchange import recording_context
from store import EventDraft, EventSource, EventStatus, Store
from tests.server.review_env import NIGHT_ID, ReviewEnv, make_env, register_night, running_client

Client = TestClient[Litestar]
FS = 256.0  # rate of every channel of the registered nights

# Onsets on a 1/256-s grid so WFDB sample numbers hold them exactly.
GENERAL = [
    EventDraft(12.5, 0.0, "N", "beat", (0,), 0.9),
    EventDraft(13.25, 0.0, "V", "beat", (0,), 0.625),
    EventDraft(14.0, 0.0, "N", "beat", (), None),
    EventDraft(100.0, 40.0, "AFIB", "rhythm", (), 0.75),
    EventDraft(301.5, 1.25, "spindle", "spindle", (1, 2), 0.5),
    EventDraft(400.0, 12.0, "arousal", "arousal", (), None),
    EventDraft(500.0, 90.0, "seizure", "seizure", (0, 1, 2, 3), 1.0),
    EventDraft(600.0, 0.0, "Lights off", "other", (), None),
]
STAGES = [EventDraft(i * 30.0, 30.0, s, "sleep_stage")
          for i, s in enumerate(["W", "W", "N1", "N2", "N2", "N3", "R", "?", "N2", "W"])]

#: format -> (events seeded in the source, categories exported, confidence kept?)
CASES: dict[str, tuple[list[EventDraft], str | None, bool]] = {
    "csv": (GENERAL, "beat,rhythm,spindle,arousal,seizure,other", True),
    "tsv": (GENERAL, "beat,rhythm,spindle,arousal,seizure,other", True),
    "parquet": (GENERAL, "beat,rhythm,spindle,arousal,seizure,other", True),
    "edf": (GENERAL + STAGES, None, True),
    "wfdb": (GENERAL, "beat,rhythm,spindle,arousal,seizure,other", False),
    "hypnogram": (STAGES, "sleep_stage", False),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> ReviewEnv:
    return make_env(tmp_path_factory.mktemp("interchange"))


@pytest.fixture(scope="module")
def client(env: ReviewEnv) -> Iterator[Client]:
    with running_client(env) as c:
        yield c


def _store(client: Client) -> Store:
    store: Store = client.app.state.store
    return store


def _new_recording(client: Client, rid: str) -> str:
    register_night(_store(client), rid)
    return rid


def _key(e: Any, keep_confidence: bool = True) -> tuple[Any, ...]:
    values = e if isinstance(e, dict) else {k: getattr(e, k) for k in (
        "onset_s", "duration_s", "label", "category", "channels", "confidence")}
    return (values["onset_s"], values["duration_s"], values["label"], values["category"],
            tuple(values["channels"]), values["confidence"] if keep_confidence else None)


def _events(client: Client, env: ReviewEnv, rid: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/recordings/{rid}/events", headers=env.auth("reviewer"))
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()["events"]
    return events


def _upload(client: Client, env: ReviewEnv, rid: str, fmt: str, name: str, data: bytes,
            who: str = "reviewer", **params: Any) -> Any:
    return client.post(f"/api/recordings/{rid}/import", params={"format": fmt, **params},
                       files={"file": (name, data, "application/octet-stream")},
                       headers=env.auth(who))


@pytest.mark.parametrize("fmt", list(CASES))
def test_export_then_import_over_the_api_gives_back_the_same_events(
        client: Client, env: ReviewEnv, fmt: str) -> None:
    drafts, categories, keep_conf = CASES[fmt]
    src = _new_recording(client, f"rsrc{fmt[:4]:0<4}00001")
    dst = _new_recording(client, f"rdst{fmt[:4]:0<4}00001")
    _store(client).insert_events(src, drafts, user=_store(client).get_user("reviewer"),
                                 source=EventSource.HUMAN, status=EventStatus.CONFIRMED)
    params = {"format": fmt} | ({"category": categories} if categories else {})
    r = client.get(f"/api/recordings/{src}/export", params=params, headers=env.auth("reviewer"))
    assert r.status_code == 200, r.text
    name = r.headers["content-disposition"].split('filename="')[1].rstrip('"')
    assert name.startswith(src)
    assert r.headers["x-event-count"] == str(len(drafts))
    imp = _upload(client, env, dst, fmt, name, r.content)
    assert imp.status_code == 201, imp.text
    assert imp.json()["n_events"] == len(drafts)
    back = sorted(_key(e, keep_conf) for e in _events(client, env, dst))
    assert back == sorted(_key(d, keep_conf) for d in drafts)
    assert {e["source"] for e in _events(client, env, dst)} == {"import"}
    assert {e["status"] for e in _events(client, env, dst)} == {"confirmed"}


def test_export_content_types_and_file_names_use_the_recording_id(
        client: Client, env: ReviewEnv) -> None:
    rid = _new_recording(client, "rnames0000001")
    _store(client).insert_events(rid, GENERAL, user=_store(client).get_user("reviewer"),
                                 source=EventSource.HUMAN, status=EventStatus.CONFIRMED)
    expected = {"csv": ("text/csv", f"{rid}_events.csv"),
                "tsv": ("text/tab-separated-values", f"{rid}_events.tsv"),
                "tsv-sidecar": ("application/json", f"{rid}_events.json"),
                "bids": ("application/zip", f"{rid}_events_bids.zip"),
                "parquet": ("application/vnd.apache.parquet", f"{rid}_events.parquet"),
                "wfdb": ("application/octet-stream", f"{rid}.atr")}
    for fmt, (media, name) in expected.items():
        r = client.get(f"/api/recordings/{rid}/export", params={"format": fmt},
                       headers=env.auth("researcher"))
        assert r.status_code == 200, (fmt, r.text)
        assert r.headers["content-type"].startswith(media), fmt
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    side = client.get(f"/api/recordings/{rid}/export", params={"format": "tsv-sidecar"},
                      headers=env.auth("annotator")).json()
    assert "Levels" in side["trial_type"] and "V" in side["trial_type"]["Levels"]
    z = client.get(f"/api/recordings/{rid}/export", params={"format": "bids"},
                   headers=env.auth("annotator"))
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        assert sorted(zf.namelist()) == [f"{rid}_events.json", f"{rid}_events.tsv"]
        rows = zf.read(f"{rid}_events.tsv").decode().strip().split("\n")
    assert len(rows) == 1 + len(GENERAL)


def test_export_filters_and_explicit_selection(client: Client, env: ReviewEnv) -> None:
    rid = _new_recording(client, "rselect000001")
    store = _store(client)
    store.insert_events(rid, GENERAL, user=store.get_user("reviewer"),
                        source=EventSource.HUMAN, status=EventStatus.CONFIRMED)
    r = client.get(f"/api/recordings/{rid}/export",
                   params={"format": "csv", "category": "beat", "start_s": 13, "stop_s": 20},
                   headers=env.auth("reviewer"))
    lines = r.text.strip().splitlines()
    assert len(lines) == 3 and r.headers["x-event-count"] == "2"  # header + V at 13.25, N at 14
    ids = [e.event_id for e in store.list_events(rid) if e.category in ("spindle", "seizure")]
    r = client.post(f"/api/recordings/{rid}/export", json={"format": "parquet",
                                                           "event_ids": ids},
                    headers=env.auth("reviewer"))
    assert r.status_code == 200 and r.headers["x-event-count"] == "2"
    bad = client.post(f"/api/recordings/{rid}/export", json={"format": "csv",
                                                             "event_ids": [ids[0], 10**9]},
                      headers=env.auth("reviewer"))
    assert bad.status_code == 404 and str(10**9) in bad.json()["detail"]
    unknown = client.get(f"/api/recordings/{rid}/export", params={"format": "xlsx"},
                         headers=env.auth("reviewer"))
    assert unknown.status_code == 422 and "csv" in unknown.json()["detail"]


def test_export_is_audited_with_format_filters_and_count(client: Client,
                                                         env: ReviewEnv) -> None:
    rid = _new_recording(client, "raudit0000001")
    store = _store(client)
    store.insert_events(rid, GENERAL, user=store.get_user("reviewer"),
                        source=EventSource.HUMAN, status=EventStatus.CONFIRMED)
    r = client.get(f"/api/recordings/{rid}/export",
                   params={"format": "tsv", "category": "beat"}, headers=env.auth("researcher"))
    assert r.status_code == 200
    entry = [e for e in store.list_audit(limit=100_000) if e.action == "events.export"][-1]
    assert entry.user_name == "researcher" and entry.target == f"recording:{rid}"
    assert entry.detail == {"format": "bids-tsv", "filters": {"categories": ["beat"]}, "n": 3}


def test_malformed_file_is_refused_with_its_line_and_nothing_is_written(
        client: Client, env: ReviewEnv) -> None:
    rid = _new_recording(client, "rbadfile00001")
    header = "onset_s,duration_s,label,category\r\n"
    good = "1.0,0,N,beat\r\n2.0,0,N,beat\r\n"
    cases = [
        (header + good + "abc,0,N,beat\r\n", "line 4", "import-format"),
        (header + good + "3.0,0,XYZ,beat\r\n", "line 4", "unknown-label"),
        (header + good + "99999.0,0,N,beat\r\n", "line 4", "invalid-event"),
        (header + "1.0,0,N,beat,extra\r\n", "line 2", "import-format"),
    ]
    for text, where, kind in cases:
        r = _upload(client, env, rid, "csv", "scoring_of_jane_doe.csv", text.encode())
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert where in body["detail"] and body["type"].endswith(kind), body
        assert "scoring_of_jane_doe.csv" in body["detail"]  # the upload's name, no temp path
        assert "/tmp" not in body["detail"] and "import-" not in body["detail"]
        assert _store(client).list_events(rid, include_deleted=True) == []


def test_import_provenance_audit_status_and_duplicates(client: Client, env: ReviewEnv) -> None:
    rid = _new_recording(client, "rprov00000001")
    text = b"W\nW\nN1\nN2\nS3\nREM\n"
    r = client.post(f"/api/recordings/{rid}/import?format=hypnogram&status=proposed",
                    content=text, headers=env.auth("admin"))  # raw body
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["n_events"] == 6 and out["status"] == "proposed"
    assert out["n_by_category"] == {"sleep_stage": 6}
    stored = _store(client).list_events(rid)
    assert [e.label for e in stored] == ["W", "W", "N1", "N2", "N3", "R"]
    assert {e.status for e in stored} == {EventStatus.PROPOSED}
    ref = stored[4].import_ref or {}
    assert ref["file_sha256"] == out["file_sha256"] and ref["original_label"] == "S3"
    assert "file_name" not in ref and all("upload" not in str(v) for v in ref.values())
    entry = [e for e in _store(client).list_audit(limit=100_000)
             if e.action == "events.import"][-1]
    assert entry.detail["file_sha256"] == out["file_sha256"] and entry.detail["n"] == 6
    again = client.post(f"/api/recordings/{rid}/import?format=hypnogram", content=text,
                        headers=env.auth("admin"))
    assert again.status_code == 422 and "already imported" in again.json()["detail"]
    assert len(_store(client).list_events(rid)) == 6
    forced = client.post(f"/api/recordings/{rid}/import?format=hypnogram&allow_duplicate=true",
                         content=text, headers=env.auth("admin"))
    assert forced.status_code == 201 and len(_store(client).list_events(rid)) == 12


def test_hypnogram_epoch_and_codes_options(client: Client, env: ReviewEnv) -> None:
    rid = _new_recording(client, "rcodes0000001")
    r = _upload(client, env, rid, "hypnogram", "h.txt", b"0\n1\n2\n3\n4\n", codes="aasm",
                epoch_s=20, onset_s=60)
    assert r.status_code == 201, r.text
    stored = _store(client).list_events(rid)
    assert [(e.onset_s, e.duration_s, e.label) for e in stored] == [
        (60.0, 20.0, "W"), (80.0, 20.0, "N1"), (100.0, 20.0, "N2"), (120.0, 20.0, "N3"),
        (140.0, 20.0, "R")]
    digits = _upload(client, env, "rcodes0000001", "hypnogram", "h2.txt", b"0\n1\n")
    assert digits.status_code == 422 and "codes" in digits.json()["detail"]


def test_only_reviewers_and_admins_may_import(client: Client, env: ReviewEnv) -> None:
    for who in ("annotator", "researcher"):
        r = _upload(client, env, NIGHT_ID, "hypnogram", "h.txt", b"W\n", who=who)
        assert r.status_code == 403, (who, r.text)
    r = client.post(f"/api/recordings/{NIGHT_ID}/import?format=hypnogram", content=b"W\n")
    assert r.status_code == 401
    assert _store(client).list_events(NIGHT_ID, sources=["import"]) == []


def test_wfdb_upload_keeps_the_seizures_extension(client: Client, env: ReviewEnv,
                                                  tmp_path: Any) -> None:
    import numpy as np
    import wfdb

    rid = _new_recording(client, "rseiz00000001")
    wfdb.wrann("chb01_03", "seizures", np.array([256 * 60, 256 * 100]),
               symbol=["[", "]"], fs=FS, write_dir=str(tmp_path))
    data = (tmp_path / "chb01_03.seizures").read_bytes()
    r = _upload(client, env, rid, "wfdb", "chb01_03.edf.seizures", data)
    assert r.status_code == 201, r.text
    (e,) = _store(client).list_events(rid)
    assert (e.category, e.onset_s, e.duration_s) == ("seizure", 60.0, 40.0)


def test_recording_context_reference_rate(client: Client) -> None:
    ctx = recording_context(_store(client), NIGHT_ID)
    assert ctx.fs == FS and ctx.channel_names == ("EEG0", "EEG1", "EEG2", "EEG3")
    assert ctx.epoch_s == 30.0 and ctx.start_time is None


def test_unknown_recording_is_404(client: Client, env: ReviewEnv) -> None:
    r = client.get("/api/recordings/rnope/export", params={"format": "csv"},
                   headers=env.auth("reviewer"))
    assert r.status_code == 404
    r = _upload(client, env, "rnope", "csv", "a.csv", b"onset_s,duration_s,label,category\n")
    assert r.status_code == 404
    assert json.loads(r.text)["status"] == 404


def test_edf_file_with_the_original_date_is_aligned_by_time_of_day(
        client: Client, env: ReviewEnv, tmp_path: Any) -> None:
    from datetime import datetime

    from server.interchange import ExportContext, export_edf_annotations
    from store import ChannelRow

    rid = "rdated0000001"
    start = datetime(2031, 3, 9, 22, 47, 5, 250_000)  # de-identified, subsecond start
    _store(client).register_recording(
        recording_id=rid, source_format="edf", duration_s=3600.0, start_time=start,
        content_sha256=rid.ljust(64, "0"), source_files_sha256=["1" * 64],
        stored_path=f"recordings/{rid}", deid_report={},
        channels=[ChannelRow(0, "C3", "EEG", "uV", 100.0, 360_000)])
    events = [EventDraft(30.0, 30.0, "N2", "sleep_stage"), EventDraft(60.0, 30.0, "R",
                                                                      "sleep_stage")]
    cases = [(start, 0.0, False),  # our own export: same (de-identified) start
             (datetime(2024, 3, 9, 22, 47, 5), 0.0, True),  # original date, same clock time
             (datetime(2024, 3, 9, 22, 48, 5), 60.0, True)]  # starts one minute later
    for i, (file_start, shift_s, warned) in enumerate(cases):
        path = tmp_path / f"hyp{i}.edf"
        export_edf_annotations(events, path, ExportContext(start_time=file_start))
        r = _upload(client, env, rid, "edf", path.name, path.read_bytes())
        assert r.status_code == 201, r.text
        assert any("aligned by time of day" in w for w in r.json()["warnings"]) == warned
        assert all("2024" not in w and "2031" not in w for w in r.json()["warnings"])
        got = [e.onset_s for e in _store(client).list_events(rid) if e.label in ("N2", "R")]
        assert got == [30.0 + shift_s, 60.0 + shift_s], (i, got)
        for e in _store(client).list_events(rid):
            _store(client).delete_event(e.event_id, _store(client).get_user("admin"))
