"""Property test: mutated WFDB records either read or raise a SignalIOError, promptly.

Starting from small sound records (formats 212, 16, 24, 80, two data files, an annotation
file), Hypothesis replaces header fields with random tokens and numbers, drops, duplicates and
inserts lines, truncates or extends data files and garbles annotation files. Opening, reading
every channel and reading annotations must then succeed or raise only
:class:`~signal_io.errors.SignalIOError` subclasses, within a few seconds.
"""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import numpy as np
import wfdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signal_io import open_recording
from signal_io.errors import SignalIOError
from tests.signal_io.test_wfdb_reader import encode_samples

TIME_LIMIT_S = 10

_TOKENS = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789+-x:/().eE#abc~ \t", max_size=10),
    st.sampled_from([
        "", "0", "-1", "nan", "inf", "-0", "1e400", "16x0", "16x1000", "212+99999", "16:-5",
        "16:999999999", "0/mV", "1e-300", "(", ")", "/", "+", "x", ":", "24:3", "80", "61",
        "160", "32", "8", "310", "1000000000000000", "10:61:00", "2014-02-30", "12/13/2000",
        "00:00:00", "01/01/0000", "rec.dat", "other.dat", "../rec.dat", "~", "rec.hea",
    ]),
)


def _base_record(folder: Path, variant: int) -> Path:
    """Write one of several small sound records and return its header."""
    n = 40
    rng = np.random.default_rng(variant)
    fmt = (212, 16, 24, 80)[variant % 4]
    bits = {212: 12, 16: 16, 24: 24, 80: 8}[fmt]
    d = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(n, 2))
    (folder / "rec.dat").write_bytes(encode_samples(fmt, d))
    (folder / "other.dat").write_bytes(encode_samples(16, np.clip(d[:, :1], -32768, 32767)))
    (folder / "rec.hea").write_text(
        f"rec 3 100 {n} 10:20:30 01/02/2003\n"
        f"rec.dat {fmt} 200(3)/mV {bits} 0 0 0 0 MLII\n"
        f"rec.dat {fmt} 100/uV {bits} 0 0 0 0 V1\n"
        "other.dat 16x1 50(-2)/mmHg 16 0 0 0 0 ABP\n"
        "# 69 M 1085 1629 x1\n"
    )
    wfdb.wrann("rec", "atr", np.array([3, 10, 20, 30]), symbol=["+", "N", "V", "+"],
               aux_note=["(N", "", "", "(AFIB"], write_dir=str(folder))
    return folder / "rec.hea"


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def fail(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"reading a mutated record took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


_MUTATION = st.one_of(
    st.tuples(st.just("token"), st.integers(0, 20), st.integers(0, 12), _TOKENS),
    st.tuples(st.just("drop"), st.integers(0, 20)),
    st.tuples(st.just("dup"), st.integers(0, 20)),
    st.tuples(st.just("insert"), st.integers(0, 20), st.lists(_TOKENS, max_size=6)),
    st.tuples(st.just("truncate"), st.sampled_from(["rec.dat", "other.dat", "rec.atr"]),
              st.integers(0, 200)),
    st.tuples(st.just("extend"), st.sampled_from(["rec.dat", "other.dat"]),
              st.binary(max_size=40)),
    st.tuples(st.just("flip"), st.sampled_from(["rec.atr", "rec.dat"]), st.integers(0, 200),
              st.integers(0, 255)),
)


def _apply(hea: Path, mutation: tuple[object, ...]) -> None:
    kind = mutation[0]
    lines = hea.read_text().splitlines()
    if kind in ("token", "drop", "dup", "insert"):
        i = int(mutation[1]) % (len(lines) + 1) if lines else 0  # type: ignore[call-overload]
        if kind == "token" and i < len(lines):
            toks = lines[i].split(" ")
            j = int(mutation[2]) % len(toks)  # type: ignore[call-overload]
            toks[j] = str(mutation[3])
            lines[i] = " ".join(toks)
        elif kind == "drop" and i < len(lines):
            del lines[i]
        elif kind == "dup" and i < len(lines):
            lines.insert(i, lines[i])
        elif kind == "insert":
            lines.insert(i, " ".join(str(t) for t in mutation[2]))  # type: ignore[attr-defined]
        hea.write_text("\n".join(lines) + "\n")
        return
    f = hea.with_name(str(mutation[1]))
    data = f.read_bytes()
    if kind == "truncate":
        f.write_bytes(data[: int(mutation[2])])  # type: ignore[call-overload]
    elif kind == "extend":
        f.write_bytes(data + bytes(mutation[2]))  # type: ignore[call-overload]
    elif kind == "flip" and data:
        pos = int(mutation[2]) % len(data)  # type: ignore[call-overload]
        f.write_bytes(data[:pos] + bytes([int(mutation[3])]) + data[pos + 1:])  # type: ignore[call-overload]


def _exercise(hea: Path) -> None:
    rec = open_recording(hea)
    for ch in rec.channels:
        x = rec.read(ch.index)
        assert x.shape == (ch.n_samples,) and x.dtype == np.float32
        if ch.n_samples > 3:
            assert np.array_equal(rec.read(ch.index, 1, ch.n_samples - 1), x[1:-1],
                                  equal_nan=True)
    for a in rec.annotations():
        assert np.isfinite(a.onset_s) and a.duration_s >= 0


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(variant=st.integers(0, 7), mutations=st.lists(_MUTATION, min_size=1, max_size=4))
def test_mutated_wfdb_records_raise_only_signal_io_errors(
    variant: int, mutations: list[tuple[object, ...]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hea = _base_record(Path(tmp), variant)
        for m in mutations:
            _apply(hea, m)
        with _time_limit(TIME_LIMIT_S):
            try:
                _exercise(hea)
            except SignalIOError as exc:
                assert exc.path is not None
                assert exc.path.parent == Path(tmp)


def test_the_unmutated_base_records_read() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for variant in range(4):
            hea = _base_record(Path(tmp), variant)
            _exercise(hea)
            rec = open_recording(hea)
            assert [c.name for c in rec.channels] == ["MLII", "V1", "ABP"]
            assert [a.label for a in rec.annotations() if a.kind == "rhythm"] == ["N", "AFIB"]
