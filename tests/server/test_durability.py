"""Crash durability: every confirmation the server acknowledged survives a SIGKILL.

A real server (uvicorn in a subprocess) takes a stream of confirmations from two client
threads; it is killed with SIGKILL mid-stream, started again as a new process, and every event
whose confirmation was answered 200 must read back as confirmed; the audit chain must verify.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from store import SYSTEM_USER, EventDraft, EventSource, Store
from tests.server.review_env import NIGHT_ID, register_night

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
N_PROPOSALS = 3000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server_process(data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``uvicorn server.app:create_app`` on ``port``; waits until it answers."""
    env = os.environ | {"WAVESCORE_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    log_path = data_dir / f"server-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                err = log_path.read_text(errors="replace")
                raise RuntimeError(f"server exited with {proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 90 s")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def test_acknowledged_confirmations_survive_sigkill(tmp_path: Path) -> None:
    with Store.open(tmp_path / "wavescore.duckdb") as store:
        register_night(store)
        store.insert_events(NIGHT_ID, [EventDraft(i * 5.0, 1.0, "spindle", "spindle", (0,), 0.5)
                                       for i in range(N_PROPOSALS)],
                            user=SYSTEM_USER, source=EventSource.DETECTOR)
        ids = [e.event_id for e in store.list_events(NIGHT_ID)]
        tokens = [store.create_user(f"scorer{i}", "annotator").token for i in range(2)]
        admin = store.create_user("root", "admin").token
    acked: list[int] = []
    lock = threading.Lock()
    port = free_port()
    with server_process(tmp_path, port) as proc:
        def stream(token: str, mine: list[int]) -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5,
                              headers={"Authorization": f"Bearer {token}"}) as c:
                for eid in mine:
                    try:
                        r = c.post(f"/api/events/{eid}/confirm")
                    except httpx.HTTPError:
                        return  # the server is gone
                    if r.status_code == 200:
                        with lock:
                            acked.append(eid)

        threads = [threading.Thread(target=stream, args=(tokens[k], ids[k::2]), daemon=True)
                   for k in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
        for t in threads:
            t.join(timeout=20)
    assert 200 <= len(acked) < N_PROPOSALS, "the kill did not land mid-stream"
    port2 = free_port()
    with (server_process(tmp_path, port2),
          httpx.Client(base_url=f"http://127.0.0.1:{port2}", timeout=30,
                       headers={"Authorization": f"Bearer {admin}"}) as c):
        events = c.get(f"/api/recordings/{NIGHT_ID}/events",
                       params={"include_rejected": True}).json()["events"]
        status = {e["event_id"]: e["status"] for e in events}
        lost = [eid for eid in acked if status.get(eid) != "confirmed"]
        assert not lost, f"{len(lost)} acknowledged confirmations were lost: {lost[:10]}"
        report = c.get("/api/audit/verify").json()
        assert report["ok"], report["problems"]
        assert report["n_entries"] >= len(acked)
    cli = subprocess.run([sys.executable, "-m", "server.cli", "audit", "verify"], cwd=REPO,
                         env=os.environ | {"WAVESCORE_DATA_DIR": str(tmp_path)},
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
