"""Demo set-up: users for each role and detector proposals ready for review.

``wavescore demo`` ingests the bundled MIT-BIH records and the synthetic recordings, then calls
:func:`prepare_demo`, which

- creates one user per role (``demo-annotator``, ``demo-reviewer``, ``demo-researcher``,
  ``demo-admin``) with random passwords, kept in ``DATA_DIR/demo-credentials.txt`` (mode 0600)
  so every later run can print them again;
- runs the detectors that fit each demo recording once (ECG rhythms and ectopic beats on the
  ECG records, sleep staging and spindles on the PSG, seizures on the long EEG), so proposals
  are waiting in the review queues.

It is idempotent: users and detector runs that exist are left alone.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from server.services.detect import run_detection
from server.settings import Settings
from store import SYSTEM_USER, Role, Store

DEMO_ROLES = (Role.ANNOTATOR, Role.REVIEWER, Role.RESEARCHER, Role.ADMIN)
CREDENTIALS_FILE = "demo-credentials.txt"

#: Detectors to run per channel kind present in a recording, in order.
DEMO_DETECTORS: tuple[tuple[str, str], ...] = (
    ("ECG-only", "ecg.rhythm"),
    ("PSG", "sleep.staging"),
    ("PSG", "sleep.spindles"),
    ("EEG-only", "eeg.seizure"),
)


@dataclass(frozen=True, slots=True)
class DemoCredential:
    """A demo user's sign-in."""

    name: str
    role: str
    password: str
    token: str


def _read_credentials(path: Path) -> dict[str, DemoCredential]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and not line.startswith("#"):
            out[parts[0]] = DemoCredential(*parts)
    return out


def ensure_demo_users(store: Store, data_dir: Path) -> list[DemoCredential]:
    """Create the demo users that are missing; return every demo credential."""
    path = data_dir / CREDENTIALS_FILE
    known = _read_credentials(path)
    existing = {u.name for u in store.list_users()}
    changed = False
    for role in DEMO_ROLES:
        name = f"demo-{role.value}"
        if name in existing and name in known:
            continue
        if name in existing:  # created elsewhere: its password is not ours to print
            continue
        password = secrets.token_urlsafe(9)
        new = store.create_user(name, role, password)
        known[name] = DemoCredential(name, role.value, password, new.token)
        changed = True
    if changed:
        lines = ["# wavescore demo users (local demo only): name role password api-token"]
        lines += [f"{c.name} {c.role} {c.password} {c.token}" for c in known.values()]
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    return [known[f"demo-{r.value}"] for r in DEMO_ROLES if f"demo-{r.value}" in known]


def _recording_class(kinds: set[str]) -> str:
    if "ECG" in kinds and not kinds & {"EEG", "EOG", "EMG"}:
        return "ECG-only"
    if "EEG" in kinds and kinds & {"EOG", "EMG"}:
        return "PSG"
    if "EEG" in kinds:
        return "EEG-only"
    return "other"


def ensure_demo_proposals(
    store: Store, settings: Settings, recording_ids: Sequence[str]
) -> list[str]:
    """Run the fitting demo detectors once per recording; return one line per run made."""
    done = {(r[0], r[1]) for r in store.cursor().execute(
        "SELECT recording_id, detector FROM detector_runs").fetchall()}
    lines = []
    for rid in recording_ids:
        row = store.get_recording(rid)
        cls = _recording_class({c.kind for c in row.channels})
        for wanted, detector in DEMO_DETECTORS:
            if wanted != cls or (rid, detector) in done:
                continue
            outcome = run_detection(store, rid, detector, {}, SYSTEM_USER,
                                    data_dir=settings.data_dir)
            lines.append(f"{rid}  {detector:<15} {outcome.n_events:6d} proposals "
                         f"({outcome.elapsed_s:.2f} s)")
    return lines


def prepare_demo(settings: Settings, recording_ids: Sequence[str]) -> str:
    """Demo users and proposals; return the text to print (sign-in help included)."""
    with Store.open(settings.database_path) as store:
        runs = ensure_demo_proposals(store, settings, recording_ids)
        creds = ensure_demo_users(store, settings.data_dir)
    out = []
    if runs:
        out.append("detector proposals ready for review:")
        out += [f"  {line}" for line in runs]
    url = f"http://{settings.host}:{settings.port}/"
    out.append(f"sign in at {url}login as one of (credentials kept in "
               f"{settings.data_dir / CREDENTIALS_FILE}):")
    out += [f"  {c.name:<16} {c.role:<11} password {c.password}" for c in creds]
    return "\n".join(out)
