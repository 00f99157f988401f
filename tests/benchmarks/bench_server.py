"""Benchmark the streaming server over HTTP on loopback, and the viewer in Chromium.

Input: an 8-h x 20-channel x 256-Hz synthetic night
(``make_psg(8 * 3600, n_eeg=12, uniform_fs=256)``) written as EDF+ and ingested through the real
ingest path, plus nine more copies with other start times (distinct content, so distinct stored
recordings) for the memory figure. Everything is cached in ``ctx.cache_dir/server/``.

The server is the real one, ``python -m server.cli serve``, in its own process on a free
loopback port, signed in with a bearer token (so the figures include authentication). Figures:

- window latency p50/p95, whole night and 30-s epochs, 20 channels at 1500 px (goal p95 <= 2 ms),
  against a baseline computing the same envelopes on the fly from the raw float32 arrays with
  NumPy in-process (no HTTP: the ratio is conservative); goal >= 50x faster for the whole night;
- throughput of whole-night windows with 4 and 16 concurrent clients (goal >= 400 req/s with 4);
- in Chromium: range change (epoch paging key) to new data painted, median over 20 pans, from the
  viewer's own performance marks (goal <= 60 ms);
- the server's resident anonymous memory (``RssAnon``: heap, excluding the page cache and the
  memory-mapped signal files) after serving windows of all 10 nights (goal <= 200 MB).

``--quick``: a 1-h night and 2 copies, fewer requests; for smoke tests only.
"""

from __future__ import annotations

import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from tests.benchmarks.run import BenchContext, BenchResult

GROUP = "server"
PX = 1500
N_EEG = 12  # 12 EEG + 8 other channels = 20
FS_HZ = 256.0
SEED = 20241122
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Prepared:
    data_dir: Path
    ids: list[str]
    token: str
    duration_s: float


def _prepare(ctx: BenchContext) -> Prepared:
    from signal_io import Annotation
    from signal_io.edf_writer import EdfSignal, write_edf
    from signal_io.synth.psg import make_psg
    from tests.server.conftest import create_viewer_token, ingest_into

    duration_s = 3600.0 if ctx.quick else 8 * 3600.0
    n_nights = 2 if ctx.quick else 10
    root = ctx.cache_dir / ("server-quick" if ctx.quick else "server")
    data_dir = root / "data"
    manifest = root / "manifest.json"
    if manifest.exists():
        info = json.loads(manifest.read_text())
        if len(info["ids"]) >= n_nights:
            return Prepared(data_dir, info["ids"], info["token"], duration_s)
    root.mkdir(parents=True, exist_ok=True)
    print(f"   generating {n_nights} nights of {duration_s / 3600:g} h x 20 ch ...",
          file=sys.stderr, flush=True)
    psg = make_psg(duration_s, seed=SEED, n_eeg=N_EEG, uniform_fs=FS_HZ)
    signals = [EdfSignal(c.name, c.data, c.fs, c.unit) for c in psg.channels]
    notes = [Annotation(i * psg.epoch_s, psg.epoch_s, f"Sleep stage {s}", "stage")
             for i, s in enumerate(psg.hypnogram)]
    ids: list[str] = []
    for k in range(n_nights):
        edf = root / f"night{k}.edf"
        start = datetime(2024, 1, 1, 22, 0, 0) + timedelta(days=k, minutes=k)
        write_edf(edf, signals, start, annotations=notes)
        ids.extend(ingest_into(data_dir, [edf]))
        edf.unlink()  # the stored form is what is served; keep the cache small
    del psg, signals
    token = create_viewer_token(data_dir, name=f"bench-{int(time.time())}")
    manifest.write_text(json.dumps({"ids": ids, "token": token}))
    return Prepared(data_dir, ids, token, duration_s)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(data_dir: Path, token: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = dict(os.environ, WAVESCORE_DATA_DIR=str(data_dir), PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server exited: {err}")
        try:
            r = httpx.get(f"{url}/api/recordings", headers=_auth(token), timeout=2)
            if r.status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start within 120 s")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _latencies(client: httpx.Client, url: str, windows: list[tuple[float, float]]) -> list[float]:
    out = []
    for start_s, stop_s in windows:
        t0 = time.perf_counter()
        r = client.get(url, params={"start_s": start_s, "stop_s": stop_s, "px": PX})
        _ = r.content
        out.append((time.perf_counter() - t0) * 1000.0)
        if r.status_code != 200:
            raise RuntimeError(f"window request failed: {r.status_code} {r.text[:200]}")
    return out


def _numpy_baseline_ms(data_dir: Path, rid: str, repeats: int) -> float:
    """Whole-night envelopes of every channel at PX columns, on the fly from raw float32."""
    from signal_io.stored import open_stored

    rec = open_stored(data_dir / "recordings" / rid)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for ch in rec.channels:
            raw = rec.raw(ch.index)
            step = math.ceil(raw.size / PX)
            full = raw.size // step * step
            blocks = raw[:full].reshape(-1, step)
            mins, maxs = blocks.min(axis=1), blocks.max(axis=1)
            tail = raw[full:]
            if tail.size:
                mins = np.append(mins, tail.min())
                maxs = np.append(maxs, tail.max())
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def _throughput(url: str, token: str, n_clients: int, duration_s: float, night_s: float) -> float:
    count = [0] * n_clients
    stop_at = time.perf_counter() + duration_s

    def worker(k: int) -> None:
        with httpx.Client(headers=_auth(token), timeout=30) as c:
            while time.perf_counter() < stop_at:
                r = c.get(url, params={"start_s": 0, "stop_s": night_s, "px": PX})
                if r.status_code == 200:
                    count[k] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / (time.perf_counter() - t0)


def _browser_pan_ms(url: str, rid: str, token: str, n_pans: int, night_s: float
                    ) -> tuple[float, float, float]:
    """Median range-change-to-paint, fetch and draw times (ms) over ``n_pans`` epoch steps."""
    from playwright.sync_api import sync_playwright

    from tests.viewer.conftest import CHROMIUM_ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000},
                                extra_http_headers=_auth(token))
        page.goto(f"{url}/recordings/{rid}")
        state = "window.wavescore.state"
        page.wait_for_function(f"window.wavescore && {state}.timings.length > 0", timeout=30000)
        base = 30 * int(night_s / 4 // 30)
        page.evaluate(f"window.wavescore.setRange({base}, {base + 30})")
        page.wait_for_function(f"{state}.timings.at(-1).start_s === {base}", timeout=10000)
        for k in range(1, n_pans + 1):
            page.keyboard.press("ArrowRight")
            expected = base + 30 * k
            page.wait_for_function(f"{state}.timings.at(-1).start_s === {expected}",
                                   timeout=10000)
            page.wait_for_timeout(80)  # let the debounce window close between pans
        timings = page.evaluate(f"{state}.timings")
        browser.close()
    first: dict[float, dict[str, float]] = {}
    for t in timings:  # the first paint of each new range, from loaded data or fetched
        if base < t["start_s"] <= base + 30 * n_pans:
            first.setdefault(t["start_s"], t)
    fetched = [t for t in timings if t["kind"] == "fetched" and base < t["start_s"]]
    return (statistics.median(t["total_ms"] for t in first.values()),
            statistics.median(t["total_ms"] for t in fetched),
            statistics.median(t["fetch_ms"] for t in fetched))


def _rss_anon_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def run(ctx: BenchContext) -> list[BenchResult]:
    prep = _prepare(ctx)
    rid = prep.ids[0]
    night_s = prep.duration_s
    n_req = 60 if ctx.quick else 300
    rng = np.random.default_rng(1)
    epochs = [(30.0 * e, 30.0 * e + 30.0)
              for e in rng.integers(0, int(night_s // 30) - 1, size=n_req)]
    results: list[BenchResult] = []
    proc, url = _start_server(prep.data_dir, prep.token)
    try:
        win_url = f"{url}/api/recordings/{rid}/window"
        with httpx.Client(headers=_auth(prep.token), timeout=30) as client:
            # the very first requests after start-up (kernels were warmed in the lifespan)
            first = _latencies(client, win_url, [(0.0, night_s), epochs[0]])
            _latencies(client, win_url, [(0.0, night_s)] * 20 + epochs[:20])  # warm
            whole = _latencies(client, win_url, [(0.0, night_s)] * n_req)
            epoch = _latencies(client, win_url, epochs)
        baseline = _numpy_baseline_ms(prep.data_dir, rid, 3 if ctx.quick else 7)
        for name, values in (("whole night", whole), ("30-s epoch", epoch)):
            p50, p95 = _percentile(values, 50), _percentile(values, 95)
            results.append(BenchResult(GROUP, f"window p50, {name}, 20 ch @ {PX} px", p50, "ms",
                                       note=f"{len(values)} sequential requests over HTTP"))
            results.append(BenchResult(GROUP, f"window p95, {name}, 20 ch @ {PX} px", p95, "ms",
                                       goal="<= 2 ms", met=p95 <= 2.0,
                                       note="includes bearer-token authentication"))
        results.append(BenchResult(
            GROUP, "first whole-night window after start-up / later p50", first[0]
            / _percentile(whole, 50), "ratio",
            note=f"first {first[0]:.2f} ms, then a first 30-s epoch {first[1]:.2f} ms; "
            "numba kernels warmed at start-up"))
        ratio = baseline / _percentile(whole, 50)
        results.append(BenchResult(
            GROUP, "whole night vs on-the-fly NumPy envelopes", ratio, "ratio",
            goal=">= 50x", met=ratio >= 50,
            note=f"NumPy in-process {baseline:.1f} ms vs server p50 over HTTP",
        ))
        for n_clients in (4, 16):
            rps = _throughput(win_url, prep.token, n_clients, 3.0 if ctx.quick else 8.0, night_s)
            results.append(BenchResult(
                GROUP, f"throughput, whole-night windows, {n_clients} clients", rps, "req/s",
                goal=">= 400 req/s" if n_clients == 4 else "",
                met=(rps >= 400) if n_clients == 4 else None,
                note="client threads share the 2 cores with the server",
            ))
        paint, fetched_paint, fetch = _browser_pan_ms(url, rid, prep.token, 20, night_s)
        results.append(BenchResult(
            GROUP, "browser: range change to painted, median of 20 pans", paint, "ms",
            goal="<= 60 ms", met=paint <= 60,
            note="30-s epoch paging, 20 ch; the page holds one window each side, fetched ahead",
        ))
        results.append(BenchResult(
            GROUP, "browser: range change to fetched data painted, median", fetched_paint, "ms",
            note=f"the re-centring fetch after each pan; fetch alone {fetch:.1f} ms",
        ))
        with httpx.Client(headers=_auth(prep.token), timeout=60) as client:
            for other in prep.ids:
                for start_s, stop_s in ((0.0, night_s), (600.0, 630.0), (night_s - 30, night_s)):
                    client.get(f"{url}/api/recordings/{other}/window",
                               params={"start_s": start_s, "stop_s": stop_s, "px": PX})
        rss = _rss_anon_mb(proc.pid)
        results.append(BenchResult(
            GROUP, f"server RssAnon, {len(prep.ids)} nights served", rss, "MB",
            goal="<= 200 MB", met=rss <= 200,
            note="anonymous resident memory; signals are memory-mapped (page cache excluded)",
        ))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return results
