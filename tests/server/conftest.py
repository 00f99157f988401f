"""Shared fixtures for server tests: a data folder with real ingested recordings, and an app.

The data folder is built once per session through the real ingest path
(:func:`server.services.ingest.ingest_file`): a synthetic multi-rate night written as EDF+
(:func:`signal_io.synth.psg.make_psg` + :func:`signal_io.edf_writer.write_edf`) and MIT-BIH
record 208 from ``server/sample_data``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from server.app import create_app
from server.services.ingest import ingest_file, load_or_create_secret
from server.settings import Settings
from signal_io import Annotation
from signal_io.edf_writer import EdfSignal, write_edf
from signal_io.synth.psg import make_psg
from store import Store

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "server" / "sample_data"
SYNTH_DURATION_S = 20 * 60.0
SYNTH_START = datetime(2024, 3, 9, 22, 47, 5)


@dataclass(frozen=True)
class DataDir:
    """An ingested data folder: ids of the synthetic night and of MIT-BIH 208, and an API token
    of a user allowed to view them."""

    path: Path
    synth_id: str
    mitbih_id: str
    token: str


def write_synthetic_night(path: Path, duration_s: float = SYNTH_DURATION_S, *,
                          uniform_fs: float | None = None, n_eeg: int = 2,
                          seed: int = 7) -> Path:
    """Write a synthetic PSG (several native rates unless ``uniform_fs``) as EDF+ to ``path``."""
    psg = make_psg(duration_s, seed=seed, n_eeg=n_eeg, uniform_fs=uniform_fs)
    signals = [EdfSignal(c.name, c.data, c.fs, c.unit) for c in psg.channels]
    notes = [Annotation(i * psg.epoch_s, psg.epoch_s, f"Sleep stage {s}", "stage")
             for i, s in enumerate(psg.hypnogram)]
    write_edf(path, signals, SYNTH_START, annotations=notes)
    return path


def ingest_into(data_dir: Path, sources: list[Path]) -> list[str]:
    """Ingest ``sources`` into ``data_dir`` through the real ingest service; return their ids."""
    secret = load_or_create_secret(data_dir)
    ids = []
    with Store.open(data_dir / "wavescore.duckdb") as store:
        for src in sources:
            outcome = ingest_file(src, data_dir=data_dir, store=store, secret=secret)
            if not outcome.ok or outcome.recording_id is None:
                raise RuntimeError(f"ingest of {src} failed: {outcome.error}")
            ids.append(outcome.recording_id)
    return ids


def create_viewer_token(data_dir: Path, name: str = "viewer-tests") -> str:
    """Create an annotator (may view recordings) in the data folder's store; return its token."""
    with Store.open(data_dir / "wavescore.duckdb") as store:
        return store.create_user(name, "annotator").token


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    """A data folder holding the synthetic night and MIT-BIH 208, ingested once per session."""
    root = tmp_path_factory.mktemp("wavescore-data")
    src = tmp_path_factory.mktemp("sources")
    edf = write_synthetic_night(src / "night.edf")
    synth_id, mitbih_id = ingest_into(root, [edf, SAMPLE_DATA / "208.hea"])
    return DataDir(root, synth_id, mitbih_id, create_viewer_token(root))


@pytest.fixture(scope="session")
def settings(data_dir: DataDir) -> Settings:
    """Settings pointing at the session's data folder, with small limits to test."""
    return Settings(data_dir=data_dir.path, max_px=4000, max_channels=16,
                    max_window_s=2 * 24 * 3600.0)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    """The application over the session's data folder."""
    return create_app(settings)


@pytest.fixture(scope="module")
def client(app: Litestar, data_dir: DataDir) -> Iterator[TestClient[Litestar]]:
    """A signed-in test client with the app's lifespan running (store open, kernels warm)."""
    with TestClient(app=app) as c:
        c.headers["Authorization"] = f"Bearer {data_dir.token}"
        yield c
