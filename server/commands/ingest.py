"""``wavescore ingest PATH...``: de-identify recordings and store them for viewing.

Each PATH is a recording file (a WFDB record named by its ``.hea``, an EDF/EDF+/BDF file) or a
folder searched recursively. One summary line per recording goes to stdout; progress bars and
errors go to stderr. The exit status is 0 only when every recording was ingested or already
present ("unchanged").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from server.settings import Settings
from store import Store

if TYPE_CHECKING:  # the ingest machinery (numba kernels) loads only when a command ingests
    from server.services.ingest import IngestOutcome, ProgressFactory
    from signal_io import ChannelInfo
    from signal_io.ingest import ProgressCallback


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` for a duration in seconds."""
    total = round(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def summary_line(o: IngestOutcome) -> str:
    """One line per recording: id, status, channels, duration, source (and error)."""
    rid = o.recording_id or "-"
    if o.ok:
        return (f"{rid:<13}  {o.status:<9}  {o.n_channels:>3} ch  "
                f"{format_duration(o.duration_s):>9}  {o.source}")
    return f"{rid:<13}  {o.status:<9}  {o.error}"


def tqdm_progress(enabled: bool, *, mininterval_s: float = 0.1) -> ProgressFactory:
    """A progress factory drawing one tqdm bar per recording (samples, current channel).

    The bar is removed when the recording is done; its summary line replaces it.
    """

    @contextmanager
    def factory(source: Path, n_channels: int) -> Iterator[ProgressCallback | None]:
        if not enabled:
            yield None
            return
        bar = tqdm(total=0, desc=source.name, unit="sample", unit_scale=True, leave=False,
                   file=sys.stderr, dynamic_ncols=True, mininterval=mininterval_s)
        last = [0]

        def callback(channel: ChannelInfo, done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.set_postfix_str(f"ch {channel.index + 1}/{n_channels} {channel.name}",
                                refresh=False)
            bar.update(done - last[0])
            last[0] = done

        try:
            yield callback
        finally:
            bar.close()

    return factory


def run_ingest(paths: Sequence[Path], settings: Settings, *, progress: bool) -> list[IngestOutcome]:
    """Ingest ``paths`` into ``settings.data_dir``, printing a summary line per recording."""
    from server.services.ingest import expand_sources, ingest_sources

    sources = list(expand_sources(paths))

    def report(o: IngestOutcome) -> None:
        tqdm.write(summary_line(o), file=sys.stdout)
        if not o.ok:
            kind = "error" if o.expected else "internal error"
            print(f"wavescore: {kind}: {o.error}", file=sys.stderr)

    with Store.open(settings.database_path) as store:
        outer = tqdm(total=len(sources), desc="recordings", unit="rec", file=sys.stderr,
                     disable=not progress or len(sources) < 2, leave=False)
        try:
            def on_outcome(o: IngestOutcome) -> None:
                report(o)
                outer.update(1)

            return ingest_sources(sources, data_dir=settings.data_dir, store=store,
                                  progress=tqdm_progress(progress), on_outcome=on_outcome)
        finally:
            outer.close()


def exit_status(outcomes: Sequence[IngestOutcome]) -> int:
    """0 when all succeeded, 70 when an internal error occurred, else 1."""
    if all(o.ok for o in outcomes):
        return 0
    return 70 if any(not o.expected for o in outcomes) else 1


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    outcomes = run_ingest(args.paths, settings, progress=not args.quiet and sys.stderr.isatty())
    failed = sum(not o.ok for o in outcomes)
    if failed:
        print(f"wavescore: {failed} of {len(outcomes)} recording(s) failed", file=sys.stderr)
    return exit_status(outcomes)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="de-identify and store recordings (WFDB .hea, EDF/EDF+/BDF files or folders)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="recording file or folder (searched recursively)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run)


__all__ = ["exit_status", "format_duration", "register", "run_ingest", "summary_line"]
