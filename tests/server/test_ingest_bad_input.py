"""Bad input at ``wavescore ingest``: one typed line naming the file, non-zero exit, nothing left.

Covers truncated data, lying and absurd headers, impostor and empty files, unknown formats,
unreadable paths, and a folder mixing a good and a bad recording.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from server.cli import main
from store import Store

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "server" / "sample_data"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("WAVESCORE_DATA_DIR", str(d))
    return d


def _copy_record(name: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for ext in ("hea", "dat", "atr"):
        shutil.copyfile(SAMPLE_DATA / f"{name}.{ext}", dest / f"{name}.{ext}")
    return dest / f"{name}.hea"


def _set_sample_count(hea: Path, n: int) -> None:
    lines = hea.read_text().splitlines(keepends=True)
    fields = lines[0].split()
    fields[3] = str(n)
    lines[0] = " ".join(fields) + "\n"
    hea.write_text("".join(lines))


def _truncated_dat(tmp: Path) -> Path:
    hea = _copy_record("201", tmp / "trunc")
    dat = hea.with_suffix(".dat")
    os.truncate(dat, dat.stat().st_size // 3)
    return hea


def _lying_header(tmp: Path) -> Path:
    hea = _copy_record("208", tmp / "lie")
    _set_sample_count(hea, 700_000)
    return hea


def _absurd_wfdb(tmp: Path) -> Path:
    hea = _copy_record("208", tmp / "absurd")
    _set_sample_count(hea, 9 * 10**14)
    return hea


def _absurd_edf(tmp: Path) -> Path:
    # A valid EDF+ header for one 1-s record of one 100-Hz signal, declaring 99999999 records.
    sig = [("EEG Cz", 16), ("", 80), ("uV", 8), ("-100", 8), ("100", 8), ("-32768", 8),
           ("32767", 8), ("", 80), ("100", 8), ("", 32)]
    head = ("0".ljust(8) + "X X X X".ljust(80) + "Startdate X X X X".ljust(80) + "01.01.20"
            + "22.00.00" + str(256 * 2).ljust(8) + "".ljust(44) + "99999999" + "1".ljust(8)
            + "1".ljust(4))
    body = "".join(v.ljust(w) for v, w in sig)
    p = tmp / "absurd.edf"
    p.write_bytes((head + body).encode("ascii") + b"\0\0" * 100)
    return p


def _impostor_edf(tmp: Path) -> Path:
    p = tmp / "letter.edf"
    p.write_text("Dear colleague, this is not an EDF file.\n" * 20)
    return p


def _zero_edf(tmp: Path) -> Path:
    p = tmp / "zero.edf"
    p.write_bytes(b"")
    return p


def _zero_hea(tmp: Path) -> Path:
    p = tmp / "zero.hea"
    p.write_bytes(b"")
    return p


def _zero_dat(tmp: Path) -> Path:
    hea = _copy_record("201", tmp / "zerodat")
    hea.with_suffix(".dat").write_bytes(b"")
    return hea


def _unknown_format(tmp: Path) -> Path:
    p = tmp / "signal.csv"
    p.write_text("t,ecg\n0,0.1\n")
    return p


def _dangling_symlink(tmp: Path) -> Path:
    p = tmp / "gone.edf"
    p.symlink_to(tmp / "nowhere" / "missing.edf")
    return p


def _path_inside_a_file(tmp: Path) -> Path:
    f = tmp / "plain.edf"
    f.write_text("x")
    return f / "inner.edf"


def _unreadable(tmp: Path) -> Path:
    p = tmp / "locked.edf"
    shutil.copyfile(_absurd_edf(tmp), p)
    if os.geteuid() == 0:  # root reads anything: use a path that cannot be opened instead
        return _path_inside_a_file(tmp)
    p.chmod(0)
    return p


def _fifo(tmp: Path) -> Path:
    p = tmp / "pipe.edf"
    os.mkfifo(p)
    return p


CASES: dict[str, Callable[[Path], Path]] = {
    "fifo_named_edf": _fifo,
    "truncated_dat": _truncated_dat,
    "lying_header": _lying_header,
    "absurd_wfdb_sample_count": _absurd_wfdb,
    "absurd_edf_record_count": _absurd_edf,
    "impostor_edf": _impostor_edf,
    "zero_length_edf": _zero_edf,
    "zero_length_hea": _zero_hea,
    "zero_length_dat": _zero_dat,
    "unknown_format": _unknown_format,
    "dangling_symlink": _dangling_symlink,
    "path_inside_file": _path_inside_a_file,
    "unreadable": _unreadable,
}


def _assert_nothing_ingested(data_dir: Path) -> None:
    rec = data_dir / "recordings"
    assert not rec.exists() or list(rec.iterdir()) == []
    with Store.open(data_dir / "wavescore.duckdb") as store:
        assert store.list_recordings() == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_naming_the_file(
    case: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = CASES[case](tmp_path)
    status = main(["ingest", "-q", str(src)])
    out, err = capsys.readouterr()
    assert status == 1
    errors = [ln for ln in err.splitlines() if ln.startswith("wavescore: error:")]
    assert len(errors) == 1, err
    assert src.name in errors[0] or src.stem in errors[0]
    assert "Traceback" not in err
    assert " failed " in out
    _assert_nothing_ingested(data_dir)


def test_folder_with_one_good_and_one_bad_recording(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "mixed"
    _copy_record("201", src / "good")
    bad = _truncated_dat(src)
    status = main(["ingest", "-q", str(src)])
    out, err = capsys.readouterr()
    assert status == 1
    assert [ln.split()[1] for ln in out.strip().splitlines()] == ["ingested", "failed"]
    errors = [ln for ln in err.splitlines() if ln.startswith("wavescore: error:")]
    assert len(errors) == 1 and bad.parent.name in errors[0]
    with Store.open(data_dir / "wavescore.duckdb") as store:
        rows = store.list_recordings()
    assert len(rows) == 1
    assert sorted(p.name for p in (data_dir / "recordings").iterdir()) == [rows[0].recording_id]


def test_empty_folder_is_an_error(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["ingest", "-q", str(tmp_path / "empty")]) == 1
    assert "no recordings" in capsys.readouterr().err


def test_bad_input_as_subprocess_exits_non_zero_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "WAVESCORE_DATA_DIR": str(tmp_path / "data")}
    bad = _truncated_dat(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "ingest", str(bad)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "201" in proc.stderr and "truncated" in proc.stderr
