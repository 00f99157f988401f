"""``wavescore demo``: ingest the bundled sample records and the synthetic demo set, then serve.

Ingests MIT-BIH records 201 and 208 (``server/sample_data``) and the synthetic recordings made by
:func:`signal_io.synth.ensure_demo_recordings` (generated once into ``DATA_DIR/synthetic``).
Already-ingested recordings are skipped, so a second run is fast. Then it starts the server
(``wavescore serve``) unless ``--no-serve`` is given, in which case it lists the recordings.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from server.commands.ingest import exit_status, run_ingest
from server.settings import Settings

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"


def demo_sources(settings: Settings) -> list[Path]:
    """The demo's recordings: the bundled MIT-BIH records and the synthetic set."""
    sources = sorted(SAMPLE_DATA.glob("*.hea"))
    try:
        synth = importlib.import_module("signal_io.synth")
    except ModuleNotFoundError:
        synth = None
    ensure = getattr(synth, "ensure_demo_recordings", None)
    if ensure is not None:
        sources += list(ensure(settings.data_dir / "synthetic"))
    else:
        print("wavescore: note: synthetic demo recordings are not available in this build",
              file=sys.stderr)
    return sources


def _serve_available() -> bool:
    try:
        importlib.import_module("server.commands.serve")
    except ModuleNotFoundError as exc:
        if exc.name == "server.commands.serve":
            return False
        raise
    return True


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    progress = not args.quiet and sys.stderr.isatty()
    outcomes = run_ingest(demo_sources(settings), settings, progress=progress)
    status = exit_status(outcomes)
    if status != 0:
        print("wavescore: some demo recordings failed to ingest", file=sys.stderr)
        return status
    from server.services.demo import prepare_demo

    ids = [o.recording_id for o in outcomes if o.recording_id is not None]
    print(prepare_demo(settings, ids), flush=True)
    if args.no_serve or not _serve_available():
        from server.commands.recordings import _run as list_recordings

        return list_recordings(argparse.Namespace(json=False))
    from server.commands.serve import serve

    served: int = serve(settings)
    return served


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="ingest the sample and synthetic recordings, "
                                   "then start the server", description=__doc__)
    parser.add_argument("--no-serve", action="store_true",
                        help="only ingest and list the recordings")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_run)


__all__ = ["demo_sources", "register"]
