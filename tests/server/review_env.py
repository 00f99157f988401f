"""Helpers for the review-workflow tests: a data folder with registered recordings and one user
(with API token) per role, and an app over it.

Recordings registered here have no stored signal folder (the events API does not read signal);
tests that run detectors ingest a real recording with :func:`tests.server.conftest.ingest_into`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from server.app import create_app
from server.settings import Settings
from store import ChannelRow, Role, Store

NIGHT_ID = "rnight0000001"
NIGHT_DURATION_S = 8 * 3600.0
ROLES = [r.value for r in Role]


@dataclass
class ReviewEnv:
    """A data folder, tokens by role name (plus ``annotator2``), the app and its client."""

    path: Path
    tokens: dict[str, str]
    passwords: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        """Headers authenticating as ``who`` (a role name or ``annotator2``)."""
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def register_night(store: Store, recording_id: str = NIGHT_ID,
                   duration_s: float = NIGHT_DURATION_S, n_channels: int = 4) -> None:
    """Register a recording without stored signal (for event-only tests)."""
    store.register_recording(
        recording_id=recording_id, source_format="edf", duration_s=duration_s, start_time=None,
        content_sha256=recording_id.ljust(64, "0"), source_files_sha256=["0" * 64],
        stored_path=f"recordings/{recording_id}", deid_report={},
        channels=[ChannelRow(i, f"EEG{i}", "EEG", "uV", 256.0, int(duration_s * 256))
                  for i in range(n_channels)],
    )


def make_env(path: Path) -> ReviewEnv:
    """Create the store in ``path`` with the night and one user per role (+ annotator2)."""
    tokens: dict[str, str] = {}
    passwords: dict[str, str] = {}
    with Store.open(path / "wavescore.duckdb") as store:
        if NIGHT_ID not in {r.recording_id for r in store.list_recordings()}:
            register_night(store)
        for name in [*ROLES, "annotator2"]:
            role = "annotator" if name == "annotator2" else name
            passwords[name] = f"pw-{name}-secret"
            tokens[name] = store.create_user(name, role, passwords[name]).token
    return ReviewEnv(path, tokens, passwords)


@contextmanager
def running_client(env: ReviewEnv, **settings: object) -> Iterator[TestClient[Litestar]]:
    """A test client (lifespan running) over the env's data folder."""
    app = create_app(Settings(data_dir=env.path, **settings))  # type: ignore[arg-type]
    with TestClient(app=app) as client:
        yield client
