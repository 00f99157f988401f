"""`wavescore demo` preparation: demo users per role and proposals ready for review."""

from __future__ import annotations

import stat
from pathlib import Path

from server.commands.demo import SAMPLE_DATA
from server.commands.ingest import run_ingest
from server.services.demo import CREDENTIALS_FILE, prepare_demo
from server.settings import Settings
from store import Role, Store


def test_demo_creates_one_user_per_role_and_ecg_proposals_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    (outcome,) = run_ingest([SAMPLE_DATA / "208.hea"], settings, progress=False)
    assert outcome.recording_id is not None
    first = prepare_demo(settings, [outcome.recording_id])
    assert "ecg.rhythm" in first and "demo-annotator" in first
    creds = tmp_path / CREDENTIALS_FILE
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    with Store.open(settings.database_path) as store:
        roles = {u.name: u.role for u in store.list_users()}
        assert roles == {f"demo-{r.value}": r for r in Role}
        for line in creds.read_text().splitlines()[1:]:
            name, _, password, token = line.split()
            assert store.check_password(name, password).name == name
            assert store.user_for_token(token).name == name
        queue = store.review_queue(outcome.recording_id)
        assert any(e.label == "V" for e in queue)  # record 208 has frequent PVCs
        n_runs = store.cursor().execute("SELECT count(*) FROM detector_runs").fetchone()
    second = prepare_demo(settings, [outcome.recording_id])
    assert "proposals" not in second  # nothing re-run
    assert second.splitlines()[-4:] == first.splitlines()[-4:]  # same credentials printed
    with Store.open(settings.database_path) as store:
        assert store.cursor().execute("SELECT count(*) FROM detector_runs").fetchone() == n_runs
