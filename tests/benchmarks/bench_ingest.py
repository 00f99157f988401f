"""Ingest speed and memory against the peer ``mne.io.read_raw_edf(preload=True)``.

Input: a synthetic 8 h x 20 channels x 256 Hz EDF+ night (``make_psg(..., n_eeg=12,
uniform_fs=256)``; 1 h with ``--quick``), generated once into the cache folder. Each side runs
in a fresh subprocess after the file has been read once (warm page cache); the time covers the
work only (imports excluded), the peak RSS is the whole process's high-water mark (``VmHWM``).

Goals: ingest time <= 2x the MNE preload of the same file; ingest peak RSS <= 1.5 GB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from datetime import datetime
from pathlib import Path

import numpy as np

from tests.benchmarks.run import BenchContext, BenchResult

GROUP = "ingest"
N_CHANNELS = 20
FS = 256.0
RATIO_GOAL = 2.0
RSS_GOAL_MB = 1500.0
REPO = Path(__file__).resolve().parents[2]

_PEAK_RSS = textwrap.dedent("""
    import resource
    def peak_rss_mb():
        # VmHWM belongs to this process's address space; ru_maxrss would also count the parent's
        # RSS at fork time (Linux carries it across exec).
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
""")

_OURS = _PEAK_RSS + textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    from server.services.ingest import ingest_file, load_or_create_secret
    from store import Store
    data = Path(sys.argv[2])
    secret = load_or_create_secret(data)
    store = Store.open(data / "wavescore.duckdb")
    t0 = time.perf_counter()
    out = ingest_file(Path(sys.argv[1]), data_dir=data, store=store, secret=secret)
    elapsed = time.perf_counter() - t0
    store.close()
    assert out.status == "ingested", out
    print(json.dumps({"s": elapsed, "rss_mb": peak_rss_mb()}))
""")

_MNE = _PEAK_RSS + textwrap.dedent("""
    import json, resource, sys, time
    import mne
    mne.set_log_level("ERROR")
    t0 = time.perf_counter()
    raw = mne.io.read_raw_edf(sys.argv[1], preload=True, verbose="ERROR")
    elapsed = time.perf_counter() - t0
    assert raw.get_data(start=0, stop=1).shape[0] > 0
    print(json.dumps({"s": elapsed, "rss_mb": peak_rss_mb()}))
""")


def _make_night(path: Path, duration_s: float) -> None:
    from signal_io import Annotation
    from signal_io.edf_writer import EdfSignal, write_edf

    start = datetime(2024, 1, 5, 22, 30)
    try:
        from signal_io.synth.psg import make_psg
    except ImportError:
        make_psg = None
    if make_psg is not None:
        psg = make_psg(duration_s, seed=11, n_eeg=N_CHANNELS - 8, uniform_fs=FS)
        signals = [EdfSignal(c.name, c.data, c.fs, c.unit) for c in psg.channels]
        notes = [Annotation(i * psg.epoch_s, psg.epoch_s, f"Sleep stage {s}", "stage")
                 for i, s in enumerate(psg.hypnogram)]
    else:
        rng = np.random.default_rng(11)
        n = int(duration_s * FS)
        signals = [EdfSignal(f"EEG {i}", rng.normal(0, 30, n).astype(np.float32), FS)
                   for i in range(N_CHANNELS)]
        notes = []
    part = path.with_suffix(".tmp.edf")
    write_edf(part, signals, start, annotations=notes)
    part.rename(path)


def _run(script: str, *args: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, cwd=REPO, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run(ctx: BenchContext) -> list[BenchResult]:
    hours = 1 if ctx.quick else 8
    night = ctx.cache_dir / f"ingest_{hours}h_{N_CHANNELS}ch_{int(FS)}hz.edf"
    if not night.exists():
        night.parent.mkdir(parents=True, exist_ok=True)
        _make_night(night, hours * 3600.0)
    with open(night, "rb") as fh:  # warm the page cache for both sides
        while fh.read(1 << 24):
            pass
    repeats = 1 if ctx.quick else 2
    ours: list[dict[str, float]] = []
    peer: list[dict[str, float]] = []
    for _ in range(repeats):
        peer.append(_run(_MNE, str(night)))
        with tempfile.TemporaryDirectory(dir=ctx.cache_dir) as tmp:
            ours.append(_run(_OURS, str(night), tmp))
    t_ours = min(r["s"] for r in ours)
    t_peer = min(r["s"] for r in peer)
    rss_ours = max(r["rss_mb"] for r in ours)
    rss_peer = max(r["rss_mb"] for r in peer)
    size = f"{hours} h x {N_CHANNELS} ch x {int(FS)} Hz EDF ({night.stat().st_size / 1e6:.0f} MB)"
    ratio = t_ours / t_peer
    return [
        BenchResult(GROUP, "ingest time", t_ours, "s", note=f"{size}; best of {repeats}; "
                    "open + hash + de-id + raw + pyramids + fsync + register"),
        BenchResult(GROUP, "mne read_raw_edf(preload=True) time", t_peer, "s",
                    note=f"{size}; best of {repeats}"),
        BenchResult(GROUP, "ingest time / mne preload time", ratio, "ratio",
                    goal=f"<= {RATIO_GOAL:g}x peer", met=ratio <= RATIO_GOAL),
        BenchResult(GROUP, "ingest peak RSS", rss_ours, "MB", goal=f"<= {RSS_GOAL_MB:g} MB",
                    met=rss_ours <= RSS_GOAL_MB, note="whole process (interpreter + imports)"),
        BenchResult(GROUP, "mne preload peak RSS", rss_peer, "MB", note="whole process"),
    ]
