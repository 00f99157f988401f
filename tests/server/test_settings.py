"""The server's settings: read from WAVESCORE_* variables, documented, enforced."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings, describe_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server-api.md"
SERVER_SETTINGS = ("WAVESCORE_MAX_PX", "WAVESCORE_MAX_CHANNELS", "WAVESCORE_MAX_WINDOW_S",
                   "WAVESCORE_MAX_ANNOTATIONS", "WAVESCORE_STATIC_MAX_AGE_S",
                   "WAVESCORE_HOST", "WAVESCORE_PORT", "WAVESCORE_DATA_DIR")


def test_limits_are_read_from_the_environment() -> None:
    s = Settings.from_env({"WAVESCORE_MAX_PX": "1234", "WAVESCORE_MAX_CHANNELS": "3",
                           "WAVESCORE_MAX_WINDOW_S": "60.5", "WAVESCORE_MAX_ANNOTATIONS": "7",
                           "WAVESCORE_STATIC_MAX_AGE_S": "0", "WAVESCORE_PORT": "9001"})
    assert (s.max_px, s.max_channels, s.max_window_s) == (1234, 3, 60.5)
    assert (s.max_annotations, s.static_max_age_s, s.port) == (7, 0, 9001)


def test_defaults_listen_on_loopback_port_8000() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port) == ("127.0.0.1", 8000)


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="WAVESCORE_MAX_PX"):
        Settings.from_env({"WAVESCORE_MAX_PX": "wide"})


@pytest.mark.parametrize("name", SERVER_SETTINGS)
def test_server_settings_are_described_and_documented(name: str) -> None:
    described = {env for env, _, _ in describe_settings()}
    assert name in described
    assert name in DOCS.read_text(encoding="utf-8")


def test_window_limit_setting_changes_the_answer(tmp_path: Path) -> None:
    from server.services.windows import build_request

    tight = Settings(data_dir=tmp_path, max_window_s=10.0)
    with pytest.raises(ValueError, match="WAVESCORE_MAX_WINDOW_S"):
        build_request(start_s=0, stop_s=11, px=100, channels=[0], filters={}, settings=tight)
    build_request(start_s=0, stop_s=10, px=100, channels=[0], filters={}, settings=tight)


def test_serve_prints_the_viewer_url_and_answers(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, WAVESCORE_DATA_DIR=str(tmp_path), PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[2], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/static/viewer/favicon.svg", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert r.status_code == 200
        r = httpx.get(f"http://127.0.0.1:{port}/api/recordings", timeout=5)
        assert r.status_code == 401  # signed-in users only
        assert r.headers["content-type"].startswith("application/problem+json")
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # waits and closes the pipes
