"""Run every benchmark module and write the figures.

Each ``tests/benchmarks/bench_*.py`` exposes ``run(ctx: BenchContext) -> list[BenchResult]``.
Benchmarks measure wavescore against the named peer in the same run and report ratios.

Usage: ``python -m tests.benchmarks.run [--only NAME ...] [--out FILE]`` (``make bench``).
The figures are printed as a Markdown table to paste into ``BENCHMARKS.md`` and saved as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tests.benchmarks as pkg

CACHE_DIR = Path(__file__).parent / "_cache"


@dataclass
class BenchResult:
    """One measured figure.

    Attributes
    ----------
    group
        Benchmark module (``pyramid``, ``ingest``, ``server``...).
    name
        What was measured.
    value
        The figure, in ``unit``.
    unit
        ``s``, ``ms``, ``MB``, ``req/s``, ``Mrows/s``, ``ratio``, ``fraction``...
    goal
        The target as text (``"<= 2.0x peer"``), or ``""``.
    met
        Whether the goal is met; ``None`` when there is no goal.
    note
        Peer figure, conditions, anything needed to read the value.
    """

    group: str
    name: str
    value: float
    unit: str
    goal: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class BenchContext:
    """Shared by benchmark modules: a cache folder for generated inputs, and options."""

    cache_dir: Path = CACHE_DIR
    quick: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _modules(only: list[str]) -> list[str]:
    names = sorted(
        m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("bench_")
    )
    if only:
        names = [n for n in names if n.removeprefix("bench_") in only]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=[], help="benchmark groups to run")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.results.json"))
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for smoke tests")
    args = parser.parse_args(argv)
    ctx = BenchContext(quick=args.quick)
    ctx.cache_dir.mkdir(parents=True, exist_ok=True)
    results: list[BenchResult] = []
    failures = 0
    for name in _modules(args.only):
        t0 = time.perf_counter()
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"tests.benchmarks.{name}")
            results.extend(module.run(ctx))
        except Exception:  # report and go on with the other benchmarks
            failures += 1
            traceback.print_exc()
        print(f"   {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    print("| group | measure | value | goal | met | note |")
    print("|---|---|---|---|---|---|")
    for r in results:
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        print(f"| {r.group} | {r.name} | {r.value:.4g} {r.unit} | {r.goal} | {met} | {r.note} |")
    payload = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "processor": platform.processor()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": [asdict(r) for r in results],
    }
    args.out.write_text(json.dumps(payload, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
