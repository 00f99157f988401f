"""Building the ``wavescore`` parser loads no detector, SciPy or numba code.

Every command pays for the parser: the evaluation harnesses and the ingest machinery load only
when their command runs (``wavescore --help`` took 1.2 s when they loaded with the parser).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_building_the_parser_imports_no_detector_scipy_or_numba_code() -> None:
    script = textwrap.dedent("""
        import sys
        from server.cli import build_parser
        build_parser().parse_args(["eval", "seizure", "--db", "x"])
        heavy = [m for m in ("scipy", "numba", "detectors.ecg", "detectors.seizure",
                             "server.evaluation.ecg", "server.services.ingest")
                 if m in sys.modules]
        print(heavy)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
