"""Start-up warms every window kernel, so the first request pays no compilation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_app_start_up_compiles_the_window_kernels_before_any_request(tmp_path: Path) -> None:
    # A fresh interpreter, so nothing else in the test session compiled the kernels first.
    script = textwrap.dedent(f"""
        from pathlib import Path
        from litestar.testing import TestClient
        from server.app import create_app
        from server.settings import Settings
        from signal_io import _pyramid_kernels as k
        kernels = [k._envelope_kernel, k._feed_kernel, k._coarsen_kernel, k._finalize_kernel]
        assert all(not kern.signatures for kern in kernels), "compiled before start-up"
        with TestClient(create_app(Settings(data_dir=Path({str(tmp_path)!r})))):
            print(all(kern.signatures for kern in kernels))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_app_start_up_loads_the_event_bounds_and_audit_head_before_any_request(
    tmp_path: Path,
) -> None:
    # The first event-window query would otherwise load the bounds (one GROUP BY over all
    # events), and the first audited view the chain's newest entry.
    script = textwrap.dedent(f"""
        from pathlib import Path
        from litestar.testing import TestClient
        from server.app import create_app
        from server.settings import Settings
        with TestClient(create_app(Settings(data_dir=Path({str(tmp_path)!r})))) as client:
            loaded = client.app.state.store.__dict__
            print("_longest_s" in loaded and loaded.get("_audit_head_cache") is not None)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "True"
