"""``GET /api/recordings`` and ``/api/recordings/{id}`` (+ annotations) over ingested data."""

from __future__ import annotations

from datetime import datetime

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from signal_io.stored import open_stored
from tests.server.conftest import SYNTH_DURATION_S, SYNTH_START, DataDir

Client = TestClient[Litestar]


def test_list_recordings_names_both_ingested_recordings(client: Client,
                                                        data_dir: DataDir) -> None:
    r = client.get("/api/recordings")
    assert r.status_code == 200
    ids = [rec["id"] for rec in r.json()["recordings"]]
    assert sorted(ids) == sorted([data_dir.synth_id, data_dir.mitbih_id])


def test_recording_describes_channels_rates_and_duration(client: Client,
                                                          data_dir: DataDir) -> None:
    body = client.get(f"/api/recordings/{data_dir.synth_id}").json()
    assert body["id"] == data_dir.synth_id
    assert body["duration_s"] == pytest.approx(SYNTH_DURATION_S)
    stored = open_stored(data_dir.path / "recordings" / data_dir.synth_id)
    assert [c["name"] for c in body["channels"]] == [c.name for c in stored.channels]
    for out, ch in zip(body["channels"], stored.channels, strict=True):
        assert out["index"] == ch.index
        assert out["fs"] == ch.fs
        assert out["n_samples"] == ch.n_samples
        assert out["unit"] == ch.unit
        assert out["kind"] == str(ch.kind)
        assert out["duration_s"] == pytest.approx(ch.n_samples / ch.fs)
    assert len({c["fs"] for c in body["channels"]}) >= 3
    assert body["n_annotations"] == len(stored.annotations())


def test_start_time_is_de_identified_but_keeps_time_of_day(client: Client,
                                                            data_dir: DataDir) -> None:
    body = client.get(f"/api/recordings/{data_dir.synth_id}").json()
    start = datetime.fromisoformat(body["start_time"])
    assert start.time() == SYNTH_START.time()
    assert start.date() != SYNTH_START.date()


def test_mitbih_208_is_two_ecg_leads_at_360_hz(client: Client, data_dir: DataDir) -> None:
    body = client.get(f"/api/recordings/{data_dir.mitbih_id}").json()
    assert [c["fs"] for c in body["channels"]] == [360.0, 360.0]
    assert body["channels"][0]["n_samples"] == 650000
    assert body["format"] == "wfdb"


def test_unknown_recording_is_404_problem(client: Client) -> None:
    r = client.get("/api/recordings/r123456789abc")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 404 and "r123456789abc" in body["detail"]


def test_annotations_in_span_match_the_stored_ones(client: Client, data_dir: DataDir) -> None:
    stored = open_stored(data_dir.path / "recordings" / data_dir.mitbih_id).annotations()
    r = client.get(f"/api/recordings/{data_dir.mitbih_id}/annotations",
                   params={"start_s": 100, "stop_s": 160})
    assert r.status_code == 200
    body = r.json()
    expected = [a for a in stored if a.onset_s < 160 and a.onset_s + a.duration_s >= 100]
    assert [a["onset_s"] for a in body["annotations"]] == [a.onset_s for a in expected]
    assert [a["label"] for a in body["annotations"]] == [a.label for a in expected]
    assert body["truncated"] is False
    assert any(a["label"] == "V" for a in body["annotations"]), "208 has many PVCs"


def test_annotations_spanning_the_window_start_are_included(client: Client,
                                                            data_dir: DataDir) -> None:
    # sleep-stage epochs last 30 s: a span starting mid-epoch includes that epoch
    r = client.get(f"/api/recordings/{data_dir.synth_id}/annotations",
                   params={"start_s": 45, "stop_s": 50})
    onsets = [a["onset_s"] for a in r.json()["annotations"]]
    assert 30.0 in onsets


def test_annotations_limit_truncates_and_says_so(client: Client, data_dir: DataDir) -> None:
    r = client.get(f"/api/recordings/{data_dir.mitbih_id}/annotations",
                   params={"start_s": 0, "stop_s": 600, "limit": 5})
    body = r.json()
    assert len(body["annotations"]) == 5 and body["truncated"] is True


def test_reversed_annotation_span_is_400(client: Client, data_dir: DataDir) -> None:
    r = client.get(f"/api/recordings/{data_dir.mitbih_id}/annotations",
                   params={"start_s": 10, "stop_s": 5})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")


def test_viewer_pages_and_static_files_are_served(client: Client, data_dir: DataDir) -> None:
    index = client.get("/")
    assert index.status_code == 200 and data_dir.synth_id in index.text
    page = client.get(f"/recordings/{data_dir.synth_id}")
    assert page.status_code == 200
    assert "/bokeh/static/js/bokeh.min.js" in page.text
    assert "cdn.bokeh.org" not in page.text
    js = client.get("/bokeh/static/js/bokeh.min.js")
    assert js.status_code == 200 and "max-age" in js.headers["cache-control"]
    assert client.get("/static/viewer/viewer.js").status_code == 200
    fav = client.get("/favicon.ico")
    assert fav.status_code == 200 and "svg" in fav.headers["content-type"]
    assert client.get("/recordings/r000000000000").status_code == 404


def test_openapi_schema_lists_the_api(client: Client) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert "/api/recordings" in paths
    assert "/api/recordings/{recording_id}/window" in paths
    assert "/api/recordings/{recording_id}/annotations" in paths
    ops = {op["operationId"] for p in paths.values() for op in p.values()}
    assert {"listRecordings", "getRecording", "getWindow", "listRecordingAnnotations"} <= ops
