"""Browser fixtures: one real server (uvicorn in a thread) and one Chromium for the session.

The server runs the real app over a data folder built through the real ingest path (a synthetic
multi-rate night and MIT-BIH 208). Chromium is Debian's (``/usr/bin/chromium``) driven by
Playwright; tests skip without it, or fail under ``WAVESCORE_REQUIRE_BROWSER=1``. A failing
test saves a screenshot to ``test-artifacts/``. Every page collects console errors and page
errors; :func:`open_viewer` fails the test when there are any.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from server.app import create_app
from server.settings import Settings
from tests.server.conftest import (
    SAMPLE_DATA,
    create_viewer_token,
    ingest_into,
    write_synthetic_night,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
NIGHT_S = 2 * 3600.0


@dataclass
class LiveServer:
    """A running server: its base URL and the ids of its recordings."""

    url: str
    night_id: str
    mitbih_id: str
    token: str
    tokens: dict[str, str] = field(default_factory=dict)
    seeded: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Viewer:
    """An open viewer page and the console/page errors it logged."""

    page: Any
    errors: list[str] = field(default_factory=list)


#: Users made for the review tests (one per test, so undo histories and epoch stages are
#: independent), by name -> role.
REVIEW_USERS = {
    "scorer-a": "annotator", "scorer-b": "annotator", "scorer-c": "annotator",
    "scorer-d": "annotator", "scorer-e": "annotator", "reviewer-r": "reviewer",
    "researcher-x": "researcher",
}
#: Detector-like spindle proposals seeded on channel 0 of the night: (onset_s, confidence).
SEEDED_SPINDLES = ((100.0, 0.10), (106.0, 0.15), (112.0, 0.20), (300.0, 0.60), (306.0, 0.65),
                   (600.0, 0.70), (606.0, 0.75))
#: Sleep-stage proposals (label N2, confidence 0.9) for these 30-s epochs.
SEEDED_STAGE_EPOCHS = range(100, 110)


#: A study with 10-s scoring epochs (rodent-style), given to the MIT-BIH recording.
SHORT_EPOCH_STUDY = ("short-epochs", 10.0)


def seed_review_data(data_dir: Path, night_id: str, short_epoch_id: str | None = None
                     ) -> tuple[dict[str, str], dict[str, list[int]]]:
    """Create the review users and seed proposals (as a detector would) on the night.

    ``short_epoch_id``, when given, is put in a study of :data:`SHORT_EPOCH_STUDY`'s epoch length.

    Returns the users' tokens and the seeded event ids (``spindles``, ``stages``).
    """
    from store import EventDraft, EventSource, EventStatus, Store
    from store.users import SYSTEM_USER

    with Store.open(data_dir / "wavescore.duckdb") as store:
        tokens = {name: store.create_user(name, role).token for name, role in REVIEW_USERS.items()}
        spindles = [EventDraft(t, 1.0, "spindle", "spindle", (0,), confidence=c)
                    for t, c in SEEDED_SPINDLES]
        stages = [EventDraft(i * 30.0, 30.0, "N2", "sleep_stage", (), confidence=0.9)
                  for i in SEEDED_STAGE_EPOCHS]
        if short_epoch_id is not None:
            study_id, epoch_s = SHORT_EPOCH_STUDY
            store.create_study(study_id, "10-s epochs", "wavescore", 1, epoch_s)
            store.assign_study(short_epoch_id, study_id)
        for drafts in (spindles, stages):
            store.insert_events(night_id, drafts, user=SYSTEM_USER, source=EventSource.DETECTOR,
                                status=EventStatus.PROPOSED)
        seeded = {
            category: [e.event_id for e in store.list_events(night_id, categories=[category],
                                                             statuses=["proposed"])]
            for category in ("spindle", "sleep_stage")
        }
    return tokens, seeded


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """uvicorn serving the real app on a free loopback port, in a thread."""
    import uvicorn

    root = tmp_path_factory.mktemp("viewer-data")
    src = tmp_path_factory.mktemp("viewer-sources")
    edf = write_synthetic_night(src / "night.edf", NIGHT_S, seed=11)
    night_id, mitbih_id = ingest_into(root, [edf, SAMPLE_DATA / "208.hea"])
    token = create_viewer_token(root)
    tokens, seeded = seed_review_data(root, night_id, mitbih_id)
    settings = Settings(data_dir=root, port=_free_port())
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port,
                            access_log=False, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{settings.port}", night_id, mitbih_id, token, tokens,
                     seeded)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(chromium_path), headless=True,
                               args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def viewer_page(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest
                ) -> Iterator[Viewer]:
    """A fresh signed-in page (1400 x 900); screenshot to ``test-artifacts/`` on failure."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 900},
        extra_http_headers={"Authorization": f"Bearer {live_server.token}"},
    )
    page = context.new_page()
    viewer = Viewer(page)
    page.on("console", lambda m: viewer.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: viewer.errors.append(f"pageerror: {e}"))
    yield viewer
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()
