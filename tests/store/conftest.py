"""A store with one registered recording (10 min, 3 channels) for event tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from store import ChannelRow, Role, Store, User


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "wavescore.duckdb")
    s.register_recording(
        recording_id="rtest00000001", source_format="edf", duration_s=600.0, start_time=None,
        content_sha256="ab" * 32, source_files_sha256=["cd" * 32],
        stored_path="recordings/rtest00000001", deid_report={},
        channels=[ChannelRow(i, f"C{i}", "EEG", "uV", 256.0, 600 * 256) for i in range(3)],
    )
    yield s
    s.close()


@pytest.fixture
def users(store: Store) -> dict[str, User]:
    return {role.value: store.create_user(f"{role.value}1", role).user for role in Role} | {
        "annotator2": store.create_user("annotator2", Role.ANNOTATOR).user}
