"""Benchmark the event store and the review API at scale.

Input: 1,000 recordings of 8 h registered directly in a fresh store (no signal), and 5 million
detector proposals (5,000 per recording: beats, rhythms, spindles with random onsets and
confidences), seeded. ``--quick`` uses 100 recordings and 500,000 events.

Figures:

- bulk insert throughput of :meth:`store.Store.insert_event_columns` (columns straight from
  NumPy/Arrow, validated in DuckDB), goal >= 2 M rows/s; the per-object path
  :meth:`store.Store.insert_events` (one :class:`store.EventDraft` per event) on 200,000 events
  is the peer, reported as a ratio;
- events in a random 30-s window of a random recording (``list_events``), p50/p95 over 500
  queries, goal p95 <= 2 ms; and the same through ``GET /api/recordings/{id}/events`` over
  loopback HTTP for reference;
- confirming one event through ``POST /api/events/{id}/confirm`` on a real server (uvicorn in a
  subprocess, loopback, keep-alive, bearer token), p50/p95/p99 over 1,000 sequential
  confirmations, goal p95 <= 5 ms; each confirmation is on disk in the decision log before the
  reply and reaches DuckDB in the background folds, which run during the measurement;
- folding a batch of logged decisions into DuckDB (the background fold's time under the write
  lock);
- a whole-table ``GROUP BY label`` count (research view, through ``run_research_sql``), median
  of 5, goal <= 100 ms.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa

from store import SYSTEM_USER, ChannelRow, EventDraft, EventSource, Store
from tests.benchmarks.run import BenchContext, BenchResult
from tests.server.test_durability import free_port, server_process

GROUP = "events"
SEED = 20241122
DURATION_S = 8 * 3600.0
LABELS = np.array(["N", "N", "N", "N", "V", "S", "AFIB", "spindle"])
CATEGORIES = np.array(["beat", "beat", "beat", "beat", "beat", "beat", "rhythm", "spindle"])


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def make_columns(recording_ids: list[str], per_recording: int, seed: int) -> pa.Table:
    """Seeded proposals for every recording, as Arrow columns sorted by (recording, onset)."""
    rng = np.random.default_rng(seed)
    n_rec = len(recording_ids)
    n = n_rec * per_recording
    onset = np.sort(rng.uniform(0, DURATION_S - 60, (n_rec, per_recording)), axis=1).ravel()
    kind = rng.integers(0, len(LABELS), n)
    duration = np.where(CATEGORIES[kind] == "beat", 0.0,
                        np.where(CATEGORIES[kind] == "rhythm", 30.0, 1.0))
    rec = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(n_rec, dtype=np.int32), per_recording)),
        pa.array(recording_ids)).cast(pa.string())
    channel_values = pa.array(np.zeros(n, np.int32))
    channels = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)),
                                        channel_values)
    return pa.table({
        "recording_id": rec,
        "onset_s": onset,
        "duration_s": duration,
        "label": pa.array(LABELS[kind]),
        "category": pa.array(CATEGORIES[kind]),
        "channels": channels,
        "confidence": rng.uniform(0, 1, n),
    })


def register(store: Store, n: int) -> list[str]:
    """Register ``n`` 8-h, 4-channel recordings without signal; return their ids."""
    ids = []
    for i in range(n):
        # ids shaped like real ones: "r" + 12 hex digits of an HMAC (see signal_io.ingest), so
        # the column's zone maps behave as in production
        rid = "r" + hashlib.sha256(f"bench-recording-{i}".encode()).hexdigest()[:12]
        store.register_recording(
            recording_id=rid, source_format="edf", duration_s=DURATION_S, start_time=None,
            content_sha256=f"{i:064x}", source_files_sha256=[f"{i:064x}"],
            stored_path=f"recordings/{rid}", deid_report={},
            channels=[ChannelRow(c, f"C{c}", "ECG", "mV", 256.0, int(DURATION_S * 256))
                      for c in range(4)])
        ids.append(rid)
    # detector output arrives recording by recording, each in onset order: the batch is
    # ordered by (recording, onset) as the store keeps it (unsorted input is sorted first)
    return sorted(ids)


def run(ctx: BenchContext) -> list[BenchResult]:
    n_rec, per_rec = (100, 5000) if ctx.quick else (1000, 5000)
    folder = ctx.cache_dir / "events_bench"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    results: list[BenchResult] = []
    rng = np.random.default_rng(SEED + 1)
    with Store.open(folder / "wavescore.duckdb") as store:
        ids = register(store, n_rec + 1)
        peer_id, ids = ids[-1], ids[:-1]
        table = make_columns(ids, per_rec, SEED)
        n = table.num_rows
        t0 = time.perf_counter()
        store.insert_event_columns(table, user=SYSTEM_USER, source=EventSource.DETECTOR)
        insert_s = time.perf_counter() - t0
        rate = n / insert_s / 1e6
        results.append(BenchResult(
            GROUP, f"bulk insert {n:,} events over {n_rec} recordings (insert_event_columns)",
            rate, "Mrows/s", ">= 2 Mrows/s", rate >= 2.0,
            f"{insert_s:.2f} s incl. validation in DuckDB"))
        n_peer = 200_000
        sub = make_columns([peer_id], n_peer, SEED + 2).to_pylist()
        t0 = time.perf_counter()
        drafts = [EventDraft(r["onset_s"], r["duration_s"], r["label"], r["category"],
                             tuple(r["channels"]), r["confidence"]) for r in sub]
        store.insert_events(peer_id, drafts, user=SYSTEM_USER, source=EventSource.DETECTOR)
        peer_rate = n_peer / (time.perf_counter() - t0) / 1e6
        results.append(BenchResult(
            GROUP, f"peer: insert_events with EventDraft objects ({n_peer:,} events)",
            peer_rate, "Mrows/s", "", None,
            f"columnar path is {rate / peer_rate:.1f}x faster"))
        times = []
        for _ in range(500):
            rid = ids[int(rng.integers(0, len(ids)))]
            start = float(rng.uniform(0, DURATION_S - 30))
            t0 = time.perf_counter()
            store.list_events(rid, start, start + 30.0)
            times.append((time.perf_counter() - t0) * 1e3)
        p95 = _pct(times, 95)
        results.append(BenchResult(
            GROUP, f"events in a 30-s window, {n:,} events stored (list_events)", p95, "ms",
            "p95 <= 2 ms", p95 <= 2.0, f"p50 {_pct(times, 50):.2f} ms, 500 random windows"))
        group_times = []
        for _ in range(5):
            t0 = time.perf_counter()
            res = store.run_research_sql(
                "SELECT label, count(*) AS n FROM events GROUP BY label", timeout_s=30,
                max_rows=100)
            group_times.append((time.perf_counter() - t0) * 1e3)
        assert sum(res.table.column("n").to_pylist()) == n + n_peer
        med = statistics.median(group_times)
        results.append(BenchResult(
            GROUP, "whole-table GROUP BY label (research SQL)", med, "ms", "<= 100 ms",
            med <= 100.0, f"median of 5 over {n + n_peer:,} rows"))
        to_confirm = [e.event_id for e in store.list_events(ids[0], limit=1100)]
        new = store.create_user("bench-reviewer", "reviewer")
        token = new.token
        local = []
        for e in store.list_events(ids[1], limit=220):
            t0 = time.perf_counter()
            store.confirm_event(e.event_id, new.user)
            local.append((time.perf_counter() - t0) * 1e3)
        local = local[20:]
        floor = []
        cur = store.cursor()
        for _ in range(200):
            t0 = time.perf_counter()
            cur.execute("SELECT 1").fetchall()
            floor.append((time.perf_counter() - t0) * 1e3)
        results.append(BenchResult(
            GROUP, "confirm one event in process (store.confirm_event)", _pct(local, 95), "ms",
            "", None, f"p50 {_pct(local, 50):.2f} ms over 200; one DuckDB read and one "
            f"journal append + fdatasync per decision; DuckDB SELECT 1 round trip p50 "
            f"{_pct(floor, 50):.3f} ms"))
        created = []
        for i in range(220):
            t0 = time.perf_counter()
            store.create_event(ids[3 + i % 20], EventDraft(60.0 + 30.0 * i, 30.0, "N2",
                                                            "sleep_stage"), new.user)
            created.append((time.perf_counter() - t0) * 1e3)
        created = created[20:]
        results.append(BenchResult(
            GROUP, "create one event in process (store.create_event)", _pct(created, 95), "ms",
            "", None, f"p50 {_pct(created, 50):.2f} ms over 200; validation reads (recording, "
            "study, label schema) and one journal append + fdatasync"))
        # time folds of full batches: no inline or background fold in between (a background
        # fold already waiting may still run once; the count each fold returns tells)
        batch = store.flush_after_writes
        store.flush_after_writes, store.flush_interval_s = 10**9, 1e9
        fold = []
        events = store.list_events(ids[2])
        for k in range(3):
            for e in events[k * batch:(k + 1) * batch]:
                store.confirm_event(e.event_id, new.user)
            t0 = time.perf_counter()
            n_folded = store.flush_decisions()
            if n_folded == batch:
                fold.append((time.perf_counter() - t0) * 1e3)
        results.append(BenchResult(
            GROUP, f"fold {batch} logged decisions into DuckDB",
            statistics.median(fold), "ms", "", None,
            f"median of {len(fold)}; the background fold holds the write lock this long, "
            "once a second while decisions arrive"))
    port = free_port()
    with (server_process(folder, port),
          httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                       headers={"Authorization": f"Bearer {token}"}) as client):
        for eid in to_confirm[:20]:  # warm-up
            client.post(f"/api/events/{eid}/confirm").raise_for_status()
        confirm = []
        for eid in to_confirm[20:1020]:
            t0 = time.perf_counter()
            client.post(f"/api/events/{eid}/confirm").raise_for_status()
            confirm.append((time.perf_counter() - t0) * 1e3)
        p95 = _pct(confirm, 95)
        results.append(BenchResult(
            GROUP, "confirm one event via HTTP (real server, loopback)", p95, "ms",
            "p95 <= 5 ms", p95 <= 5.0,
            f"p50 {_pct(confirm, 50):.2f} ms, p99 {_pct(confirm, 99):.2f} ms, max "
            f"{max(confirm):.1f} ms over {len(confirm)} sequential confirmations, the "
            "background folds included; each is durable (journal fdatasync) before the reply"))
        http = []
        rid = ids[len(ids) // 2]  # one recording panned at random, as a viewer does
        for _ in range(200):
            start = float(rng.uniform(0, DURATION_S - 30))
            t0 = time.perf_counter()
            client.get(f"/api/recordings/{rid}/events",
                       params={"start_s": start, "stop_s": start + 30}).raise_for_status()
            http.append((time.perf_counter() - t0) * 1e3)
        results.append(BenchResult(
            GROUP, "events in a 30-s window via HTTP (reference)", _pct(http, 95), "ms",
            "", None, f"p50 {_pct(http, 50):.2f} ms; one recording, random windows; includes "
            "authentication and the (coalesced) access audit"))
    shutil.rmtree(folder, ignore_errors=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    for r in results:
        r.note = f"{r.note}; load average {load} on {os.cpu_count()} cores".lstrip("; ")
    return results


def _main() -> None:
    for r in run(BenchContext(cache_dir=Path(__file__).parent / "_cache", quick=True)):
        print(r)


if __name__ == "__main__":
    _main()
