"""``wavescore serve``: run the API and the viewer with uvicorn."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from server.settings import Settings


def serve(settings: Settings, *, announce: bool = True) -> int:
    """Serve the app for ``settings`` until interrupted; return the exit status.

    The store is opened once before uvicorn starts so that a locked or unreadable database is
    reported as a one-line error rather than a failed start-up. ``wavescore demo`` calls this.
    """
    import uvicorn

    from server.app import create_app
    from store import Store

    Store.open(settings.database_path).close()  # fail early, with a typed error
    app = create_app(settings)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    if announce:
        print(f"wavescore: viewer at http://{host}:{settings.port}/  (Ctrl+C to stop)",
              flush=True)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, access_log=False, log_level="warning",
        ws="none", lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    changes: dict[str, Any] = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = args.port
    if args.data_dir is not None:
        changes["data_dir"] = args.data_dir
    return serve(dataclasses.replace(settings, **changes))


def register(subparsers: Any) -> None:
    """Add ``serve`` to the CLI."""
    parser = subparsers.add_parser(
        "serve", help="serve the API and the browser viewer",
        description="Serve the API and the browser viewer (default http://127.0.0.1:8000/). "
        "Settings come from WAVESCORE_* variables; see docs/server-api.md.",
    )
    parser.add_argument("--host", default=None, help="address to listen on (WAVESCORE_HOST)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (WAVESCORE_PORT)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="data folder (WAVESCORE_DATA_DIR)")
    parser.set_defaults(func=_run)
