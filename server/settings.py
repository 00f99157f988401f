"""Settings read from ``WAVESCORE_*`` environment variables.

One :class:`Settings` object is built at start-up and handed to ``create_app(settings)`` and to
the CLI commands; nothing else reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    """Every tunable of a wavescore installation.

    Each attribute is read from the environment variable named in its ``metadata["env"]``.
    """

    data_dir: Path = field(
        default=Path("wavescore-data"),
        metadata={"env": "WAVESCORE_DATA_DIR", "doc": "Folder holding the store and recordings."},
    )
    host: str = field(
        default="127.0.0.1", metadata={"env": "WAVESCORE_HOST", "doc": "Address to listen on."}
    )
    port: int = field(default=8000, metadata={"env": "WAVESCORE_PORT", "doc": "TCP port."})
    max_px: int = field(
        default=8000,
        metadata={"env": "WAVESCORE_MAX_PX", "doc": "Most pixel columns per window request."},
    )
    max_channels: int = field(
        default=64,
        metadata={"env": "WAVESCORE_MAX_CHANNELS", "doc": "Most channels per window request."},
    )
    max_window_s: float = field(
        default=7 * 24 * 3600.0,
        metadata={"env": "WAVESCORE_MAX_WINDOW_S", "doc": "Longest window (s) per request."},
    )
    max_annotations: int = field(
        default=5000,
        metadata={"env": "WAVESCORE_MAX_ANNOTATIONS",
                  "doc": "Most annotations returned per annotations request (then truncated)."},
    )
    static_max_age_s: int = field(
        default=86400,
        metadata={"env": "WAVESCORE_STATIC_MAX_AGE_S",
                  "doc": "Cache-Control max-age (s) of the viewer's static files and BokehJS."},
    )
    warm_recordings: int = field(
        default=20,
        metadata={"env": "WAVESCORE_WARM_RECORDINGS",
                  "doc": "Recordings opened and read once at start-up (newest first) so their "
                         "first window is as fast as later ones; each keeps about 2 open files "
                         "per channel."},
    )
    sql_timeout_s: float = field(
        default=5.0,
        metadata={"env": "WAVESCORE_SQL_TIMEOUT_S", "doc": "Researcher SQL time limit (s)."},
    )
    sql_max_rows: int = field(
        default=10_000,
        metadata={"env": "WAVESCORE_SQL_MAX_ROWS", "doc": "Rows returned before truncating."},
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from environment variables (``os.environ`` by default).

        Raises
        ------
        ValueError
            A variable holds a value of the wrong type; the message names the variable.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            if name not in env:
                continue
            raw = env[name]
            default = f.default
            try:
                if isinstance(default, Path):
                    values[f.name] = Path(raw)
                elif isinstance(default, bool):
                    values[f.name] = raw.lower() in ("1", "true", "yes")
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, float):
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                raise ValueError(
                    f"{name}={raw!r} is not a valid {type(default).__name__}"
                ) from exc
        return cls(**values)  # type: ignore[arg-type]

    @property
    def recordings_dir(self) -> Path:
        """Folder with one sub-folder per ingested recording."""
        return self.data_dir / "recordings"

    @property
    def database_path(self) -> Path:
        """The DuckDB file."""
        return self.data_dir / "wavescore.duckdb"


def describe_settings() -> list[tuple[str, str, str]]:
    """Return ``(variable, default, description)`` for every setting, for docs and ``--help``."""
    return [
        (f.metadata["env"], str(f.default), f.metadata["doc"]) for f in fields(Settings)
    ]


