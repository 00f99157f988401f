"""Property test: mutated, truncated or padded EDF/BDF files raise only SignalIOError subclasses."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signal_io import Annotation, SignalIOError, open_recording
from signal_io.edf_writer import EdfSignal, write_edf

_DIR = Path(tempfile.mkdtemp(prefix="wavescore-edf-fuzz-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)


def _template(bdf: bool) -> bytes:
    path = _DIR / ("template.bdf" if bdf else "template.edf")
    rng = np.random.default_rng(3)
    write_edf(path, [EdfSignal("EEG Cz", rng.normal(0, 20, 8 * 4), 8.0),
                     EdfSignal("SpO2", 95 + rng.random(4), 1.0, unit="%")],
              datetime(2020, 2, 3, 4, 5, 6, 500000),
              annotations=[Annotation(1.0, 0.5, "Arousal"), Annotation(2.5, 0.0, "仰卧")],
              bdf=bdf, record_duration_s=1.0)
    return path.read_bytes()


TEMPLATES = {False: _template(False), True: _template(True)}
HEADER_BYTES = 256 * 4  # two signals plus the annotation channel

_mutation = st.one_of(
    st.tuples(st.just("set"), st.integers(0, HEADER_BYTES - 1), st.integers(0, 255)),
    st.tuples(st.just("digit"), st.integers(0, HEADER_BYTES - 1),
              st.sampled_from(b"0123456789-+. e")),
    st.tuples(st.just("truncate"), st.integers(0, 2000), st.just(0)),
    st.tuples(st.just("append"), st.integers(1, 400), st.integers(0, 255)),
    st.tuples(st.just("anywhere"), st.integers(0, 4000), st.integers(0, 255)),
)


def _apply(data: bytearray, mutation: tuple[str, int, int]) -> bytearray:
    kind, pos, value = mutation
    if kind in ("set", "digit", "anywhere"):
        if pos < len(data):
            data[pos] = value
    elif kind == "truncate":
        del data[pos:]
    else:
        data += bytes([value]) * pos
    return data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bdf=st.booleans(), mutations=st.lists(_mutation, min_size=1, max_size=4),
       name=st.integers(0, 1_000_000))
def test_mutated_files_raise_only_signal_io_errors(
        bdf: bool, mutations: list[tuple[str, int, int]], name: int) -> None:
    data = bytearray(TEMPLATES[bdf])
    for m in mutations:
        data = _apply(data, m)
    path = _DIR / f"m{name}.{'bdf' if bdf else 'edf'}"
    path.write_bytes(bytes(data))
    try:
        rec = open_recording(path)
        with rec:
            for ch in rec.channels:
                x = rec.read(ch.index)
                assert x.dtype == np.float32 and x.shape == (ch.n_samples,)
                if ch.n_samples > 2:
                    mid = ch.n_samples // 2
                    np.testing.assert_array_equal(rec.read(ch.index, 1, mid), x[1:mid])
            for a in rec.annotations():
                assert isinstance(a.label, str)
    except SignalIOError as exc:
        assert str(path) in str(exc)
    finally:
        path.unlink()
