"""``GET /api/recordings/{id}/window``: envelopes, raw samples, rates, clipping, filters, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from numpy.typing import NDArray

from server.services.windows import FilterSpec, apply_sos, decode_window, design_filter
from signal_io.stored import StoredRecording, open_stored
from tests.server.conftest import DataDir

Client = TestClient[Litestar]


@pytest.fixture(scope="module")
def synth(data_dir: DataDir) -> StoredRecording:
    return open_stored(data_dir.path / "recordings" / data_dir.synth_id)


@pytest.fixture(scope="module")
def mitbih(data_dir: DataDir) -> StoredRecording:
    return open_stored(data_dir.path / "recordings" / data_dir.mitbih_id)


def get_window(client: Client, rid: str, **params: Any
               ) -> tuple[dict[str, Any], NDArray[np.float32]]:
    r = client.get(f"/api/recordings/{rid}/window", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.wavescore.window")
    return decode_window(r.content)


def column_scan(raw: NDArray[np.float32], meta: dict[str, Any], start: int, stop: int
                ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Min/max of every column the preamble describes, by a plain scan of the raw samples."""
    fs = meta["fs"]
    first = round(meta["t0_s"] * fs)
    step = round(meta["step_s"] * fs)
    mins = np.empty(meta["n"], np.float32)
    maxs = np.empty(meta["n"], np.float32)
    for k in range(meta["n"]):
        lo, hi = max(start, first + k * step), min(stop, first + (k + 1) * step)
        seg = raw[lo:hi]
        mins[k], maxs[k] = np.nanmin(seg), np.nanmax(seg)
    return mins, maxs


def test_whole_night_envelope_equals_full_scan_of_raw(client: Client, data_dir: DataDir,
                                                       synth: StoredRecording) -> None:
    duration = synth.duration_s
    head, data = get_window(client, data_dir.synth_id, start_s=0, stop_s=duration, px=1500)
    assert not head["clipped"]
    assert len(head["channels"]) == len(synth.channels)
    for meta in head["channels"]:
        ch = synth.channels[meta["index"]]
        raw = synth.raw(meta["index"])
        if meta["mode"] == "raw":  # slow channels (SpO2 at 1 Hz) hold few samples
            assert ch.n_samples <= 2 * 1500
            continue
        assert meta["mode"] == "minmax"
        assert 1 <= meta["n"] <= 1500
        values = data[meta["offset"]: meta["offset"] + meta["length"]]
        assert meta["length"] == 2 * meta["n"]
        mins, maxs = column_scan(raw, meta, 0, ch.n_samples)
        np.testing.assert_array_equal(values[0::2], mins)
        np.testing.assert_array_equal(values[1::2], maxs)
        # the columns tile the recording exactly
        first = round(meta["t0_s"] * ch.fs)
        step = round(meta["step_s"] * ch.fs)
        assert first <= 0 < first + step
        assert first + meta["n"] * step >= ch.n_samples > first + (meta["n"] - 1) * step


def test_odd_window_envelope_matches_scan(client: Client, data_dir: DataDir,
                                          synth: StoredRecording) -> None:
    head, data = get_window(client, data_dir.synth_id, start_s=123.4567, stop_s=987.654,
                            px=777, channels="0")
    meta = head["channels"][0]
    fs = meta["fs"]
    start, stop = int(np.floor(123.4567 * fs)), int(np.ceil(987.654 * fs))
    mins, maxs = column_scan(synth.raw(0), meta, start, stop)
    values = data[meta["offset"]: meta["offset"] + meta["length"]]
    np.testing.assert_array_equal(values[0::2], mins)
    np.testing.assert_array_equal(values[1::2], maxs)


def test_beat_level_zoom_on_ecg_serves_raw_samples(client: Client, data_dir: DataDir,
                                                   mitbih: StoredRecording) -> None:
    head, data = get_window(client, data_dir.mitbih_id, start_s=60.0, stop_s=62.5, px=1200)
    for meta in head["channels"]:
        assert meta["mode"] == "raw"
        assert meta["fs"] == 360.0
        assert meta["step_s"] == pytest.approx(1 / 360.0)
        start = round(meta["t0_s"] * 360.0)
        assert start == 60 * 360
        assert meta["n"] == 900
        values = data[meta["offset"]: meta["offset"] + meta["length"]]
        np.testing.assert_array_equal(values, mitbih.raw(meta["index"])[start: start + 900])
        assert not meta["filtered"]


def test_mixed_rates_are_each_served_at_their_native_rate(client: Client, data_dir: DataDir,
                                                         synth: StoredRecording) -> None:
    rates = {c.fs for c in synth.channels}
    assert len(rates) >= 3, "the synthetic night must mix rates for this test"
    head, data = get_window(client, data_dir.synth_id, start_s=300, stop_s=330, px=4000)
    assert data.size == sum(m["length"] for m in head["channels"])
    for meta in head["channels"]:
        ch = synth.channels[meta["index"]]
        assert meta["fs"] == ch.fs
        assert meta["mode"] == "raw"
        assert meta["step_s"] == pytest.approx(1 / ch.fs)
        assert meta["n"] == round(30 * ch.fs)
        values = data[meta["offset"]: meta["offset"] + meta["length"]]
        start = round(300 * ch.fs)
        np.testing.assert_array_equal(values, synth.raw(meta["index"])[start: start + meta["n"]])


def test_channels_by_name_and_index_keep_requested_order(client: Client, data_dir: DataDir,
                                                         synth: StoredRecording) -> None:
    last = synth.channels[-1]
    head, _ = get_window(client, data_dir.synth_id, start_s=0, stop_s=10,
                         channels=f"{last.name},0")
    assert [m["index"] for m in head["channels"]] == [last.index, 0]


def test_times_outside_the_recording_are_clipped(client: Client, data_dir: DataDir,
                                                 synth: StoredRecording) -> None:
    duration = synth.duration_s
    head, _ = get_window(client, data_dir.synth_id, start_s=-10, stop_s=duration + 50, px=1000)
    assert head["clipped"] is True
    assert head["start_s"] == 0.0
    assert head["stop_s"] == pytest.approx(duration)
    assert head["requested_start_s"] == -10
    head, data = get_window(client, data_dir.synth_id, start_s=duration + 10,
                            stop_s=duration + 20)
    assert head["clipped"] is True
    assert all(m["n"] == 0 for m in head["channels"]) and data.size == 0
    head, _ = get_window(client, data_dir.synth_id, start_s=5, stop_s=10)
    assert head["clipped"] is False


@pytest.mark.parametrize(("start_s", "hp", "lp", "notch"), [
    (400.0, 0.3, 35.0, 50.0),   # mid-recording, all three stages
    (0.0, 0.3, 35.0, 50.0),     # at the start: no neighbours on the left
    (1190.0, 0.1, None, None),  # at the end, slowest high-pass
    (700.0, None, None, 60.0),  # notch alone
])
def test_display_filter_equals_slice_of_whole_signal_filtering(
        client: Client, data_dir: DataDir, synth: StoredRecording, start_s: float,
        hp: float | None, lp: float | None, notch: float | None) -> None:
    ch = next(c for c in synth.channels if c.kind == "EEG")
    params = {k: v for k, v in (("hp", hp), ("lp", lp), ("notch", notch)) if v is not None}
    head, data = get_window(client, data_dir.synth_id, start_s=start_s, stop_s=start_s + 10,
                            px=3000, channels=str(ch.index), **params)
    meta = head["channels"][0]
    assert meta["mode"] == "raw" and meta["filtered"] is True
    assert meta["filter"] == {f"{k}_hz": v for k, v in params.items()}
    values = data[meta["offset"]: meta["offset"] + meta["length"]]
    sos, _, _ = design_filter(FilterSpec(hp, lp, notch), ch.fs)
    assert sos is not None
    whole = apply_sos(synth.raw(ch.index), sos)
    start = round(start_s * ch.fs)
    expected = whole[start: start + meta["n"]]
    scale = float(np.std(expected))
    # no edge artefact: the window's first and last samples agree as well as its middle
    np.testing.assert_allclose(values, expected, atol=1e-3 * scale, rtol=0)
    unfiltered = synth.raw(ch.index)[start: start + meta["n"]]
    assert np.max(np.abs(unfiltered - values)) > 10 * 1e-3 * scale  # the filter did act


def test_window_filter_without_padding_would_show_edge_artefact(synth: StoredRecording) -> None:
    """Guards the test above: padding is what removes the artefact."""
    ch = next(c for c in synth.channels if c.kind == "EEG")
    sos, pad_s, _ = design_filter(FilterSpec(0.3, None, None), ch.fs)
    assert sos is not None and pad_s >= 4.0
    raw = synth.raw(ch.index)
    start, stop = round(400 * ch.fs), round(410 * ch.fs)
    whole = apply_sos(raw, sos)[start:stop]
    naive = apply_sos(raw[start:stop], sos)
    assert np.max(np.abs(naive - whole)) > 5e-2 * float(np.std(whole))


def test_filter_skipped_above_nyquist_and_not_applied_to_envelopes(
        client: Client, data_dir: DataDir, synth: StoredRecording) -> None:
    spo2 = next(c for c in synth.channels if c.fs <= 2.0)
    eeg = next(c for c in synth.channels if c.kind == "EEG")
    head, _ = get_window(client, data_dir.synth_id, start_s=0, stop_s=600, px=500,
                         channels=f"{spo2.index},{eeg.index}", lp=35)
    by_index = {m["index"]: m for m in head["channels"]}
    assert by_index[spo2.index]["mode"] == "raw"
    assert by_index[spo2.index]["filtered"] is False
    assert "Nyquist" in by_index[spo2.index]["note"]
    assert by_index[eeg.index]["mode"] == "minmax"
    assert by_index[eeg.index]["filtered"] is False
    assert "not applied to envelopes" in by_index[eeg.index]["note"]


def test_per_channel_filters_override_common_ones(client: Client, data_dir: DataDir,
                                                  synth: StoredRecording) -> None:
    eeg = [c for c in synth.channels if c.kind == "EEG"][:2]
    head, _ = get_window(client, data_dir.synth_id, start_s=100, stop_s=105, px=2000,
                         channels=f"{eeg[0].index},{eeg[1].index}", hp=0.5,
                         filters=f"{eeg[1].name}::30:60")
    by_index = {m["index"]: m for m in head["channels"]}
    assert by_index[eeg[0].index]["filter"] == {"hp_hz": 0.5}
    assert by_index[eeg[1].index]["filter"] == {"lp_hz": 30.0, "notch_hz": 60.0}


def test_wire_preamble_is_aligned_for_float32_views(client: Client, data_dir: DataDir) -> None:
    r = client.get(f"/api/recordings/{data_dir.synth_id}/window",
                   params={"start_s": 0, "stop_s": 30})
    n = int.from_bytes(r.content[:4], "little")
    assert (4 + n) % 4 == 0
    head, data = decode_window(r.content)
    assert head["format"] == "wavescore.window/1"
    assert (len(r.content) - 4 - n) == 4 * data.size


BAD_REQUESTS = [
    # (query, status, words expected in detail, setting)
    ({"start_s": "abc", "stop_s": 5}, 400, "start_s", None),
    ({"start_s": 0}, 400, "stop_s", None),
    ({"start_s": 5, "stop_s": 1}, 400, "greater than start_s", None),
    ({"start_s": 5, "stop_s": 5}, 400, "greater than start_s", None),
    ({"start_s": "nan", "stop_s": 5}, 400, "finite", None),
    ({"start_s": 0, "stop_s": "inf"}, 400, "finite", None),
    ({"start_s": 0, "stop_s": 5, "px": 4001}, 400, "WAVESCORE_MAX_PX", "WAVESCORE_MAX_PX"),
    ({"start_s": 0, "stop_s": 5, "px": 0}, 400, "WAVESCORE_MAX_PX", "WAVESCORE_MAX_PX"),
    ({"start_s": 0, "stop_s": 5, "px": "wide"}, 400, "px", None),
    ({"start_s": 0, "stop_s": 5, "channels": ",".join(["0"] * 17)}, 400,
     "WAVESCORE_MAX_CHANNELS", "WAVESCORE_MAX_CHANNELS"),
    ({"start_s": 0, "stop_s": 3 * 24 * 3600}, 400, "WAVESCORE_MAX_WINDOW_S",
     "WAVESCORE_MAX_WINDOW_S"),
    ({"start_s": 0, "stop_s": 5, "channels": "Nope"}, 404, "no channel named 'Nope'", None),
    ({"start_s": 0, "stop_s": 5, "channels": "99"}, 404, "out of range", None),
    ({"start_s": 0, "stop_s": 5, "hp": 40, "lp": 30}, 400, "below low-pass", None),
    ({"start_s": 0, "stop_s": 5, "hp": -1}, 400, "positive", None),
    ({"start_s": 0, "stop_s": 5, "filters": "0:1"}, 400, "ch:hp:lp:notch", None),
]


@pytest.mark.parametrize(("query", "status", "words", "setting"), BAD_REQUESTS)
def test_bad_window_requests_get_problem_details(client: Client, data_dir: DataDir,
                                                 query: dict[str, Any], status: int, words: str,
                                                 setting: str | None) -> None:
    r = client.get(f"/api/recordings/{data_dir.synth_id}/window", params=query)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    assert words in body["detail"]
    assert body.get("setting") == setting
    assert set(body) >= {"type", "title", "status", "detail"}


def test_unknown_recording_window_is_404(client: Client) -> None:
    r = client.get("/api/recordings/r000000000000/window", params={"start_s": 0, "stop_s": 1})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "r000000000000" in r.json()["detail"]


def test_filter_leaves_nan_gaps_and_filters_each_finite_run() -> None:
    fs = 256.0
    t = np.arange(int(20 * fs)) / fs
    x = (np.sin(2 * np.pi * 10 * t) + 5.0).astype(np.float32)  # 10 Hz on a DC offset
    x[2000:2300] = np.nan
    sos, _, _ = design_filter(FilterSpec(1.0, None, None), fs)
    assert sos is not None
    y = apply_sos(x, sos)
    assert np.isnan(y[2000:2300]).all()
    assert np.isfinite(y[:2000]).all() and np.isfinite(y[2300:]).all()
    # the high-pass removed the offset on both runs (away from their ends)
    assert abs(float(np.mean(y[500:1500]))) < 0.05
    assert abs(float(np.mean(y[3000:4500]))) < 0.05
    np.testing.assert_allclose(y[3000:4500], x[3000:4500] - 5.0, atol=0.05)
