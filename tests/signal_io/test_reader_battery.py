"""One reader battery that every format passes, over every real recording in ../shared/data.

For each recording (WFDB: MIT-BIH, SVDB, CinC 2015/2017 ``.mat``, PTB; EDF/EDF+/EDF+D/BDF/BDF+):

1. lazy reads of random ranges equal the same slice of a full read;
2. physical values match an independent reference (``wfdb.rdrecord(physical=True)`` for WFDB,
   on a copy of the header with the date removed for the CinC 2017 headers ``wfdb`` rejects;
   MNE for EDF/BDF channels at the file's highest rate, and a plain numpy decoder of the
   data records for every channel);
3. channel metadata (names, rates, units, sample counts) equals the reference's;
4. annotation counts equal ``wfdb.rdann`` / ``mne.read_annotations`` counts.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import mne
import numpy as np
import pytest
import wfdb
from numpy.typing import NDArray

from signal_io import Recording, open_recording
from signal_io._wfdb_annotations import ANNOTATION_EXTENSIONS, BEAT_SYMBOLS
from tests.conftest import SHARED_DATA, need_shared

pytestmark = pytest.mark.shared_data

_SETS: list[tuple[str, tuple[str, ...]]] = [
    ("misc-edf", (".edf", ".bdf")),
    ("misc-wfdb", (".hea",)),
    ("mitdb", (".hea",)),
    ("svdb", (".hea",)),
    ("cinc2017-af/validation", (".hea",)),
    ("dreams-spindles", ("excerpt3.edf",)),
]


def _cases() -> list[object]:
    out: list[object] = []
    for folder, endings in _SETS:
        d = SHARED_DATA / folder
        files = sorted(f for f in d.iterdir() if f.name.lower().endswith(endings)) \
            if d.is_dir() else []
        if not files:  # keep a case so the missing data is reported (skip, or fail in CI)
            out.append(pytest.param(folder, id=f"{folder}/<missing>"))
        out += [pytest.param(f"{folder}/{f.name}", id=f"{folder}/{f.name}") for f in files]
    return out


CASES = _cases()


def _open(case: str) -> Recording:
    return open_recording(need_shared(*case.split("/")))


def _is_wfdb(case: str) -> bool:
    return case.lower().endswith(".hea")


# --- references -------------------------------------------------------------------------------


def _wfdb_reference_name(case: str, tmp: Path) -> str:
    """Record name wfdb can read: the original, or a copy of a CinC 2017 header without date."""
    hea = need_shared(*case.split("/"))
    try:
        wfdb.rdheader(str(hea.with_suffix("")))
        return str(hea.with_suffix(""))
    except ValueError:
        pass
    # CinC 2017: ISO date on the record line; give wfdb a copy without time and date.
    lines = hea.read_text().splitlines()
    lines[0] = " ".join(lines[0].split()[:4])
    copy = tmp / hea.parent.name / hea.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text("\n".join(lines) + "\n")
    for line in lines[1:]:
        if line.strip() and not line.startswith("#"):
            dat = copy.with_name(line.split()[0])
            if not dat.exists():
                dat.symlink_to(hea.with_name(line.split()[0]))
    return str(copy.with_suffix(""))


@dataclass
class EdfSignalRef:
    label: str
    unit: str
    phys_min: float
    phys_max: float
    dig_min: int
    dig_max: int
    spr: int  # samples per data record


@dataclass
class EdfRef:
    signals: list[EdfSignalRef]
    n_records: int
    record_s: float
    header_bytes: int
    bdf: bool
    discontinuous: bool


def _edf_header(path: Path) -> EdfRef:
    raw = path.read_bytes()
    ns = int(raw[252:256])
    n_records = int(raw[236:244])
    record_s = float(raw[244:252])

    def field(offset: int, width: int) -> list[str]:
        base = 256 + offset * ns
        return [raw[base + i * width: base + (i + 1) * width].decode("latin-1").strip()
                for i in range(ns)]

    labels = field(0, 16)
    units = field(16 + 80, 8)
    pmin = field(16 + 80 + 8, 8)
    pmax = field(16 + 80 + 16, 8)
    dmin = field(16 + 80 + 24, 8)
    dmax = field(16 + 80 + 32, 8)
    spr = field(16 + 80 + 40 + 80, 8)
    sigs = [EdfSignalRef(labels[i], units[i], float(pmin[i]), float(pmax[i]), int(dmin[i]),
                         int(dmax[i]), int(spr[i])) for i in range(ns)]
    return EdfRef(sigs, n_records, record_s, 256 * (ns + 1), raw[0:1] == b"\xff",
                  raw[192:197] in (b"EDF+D", b"BDF+D"))


def _is_annotation_signal(label: str) -> bool:
    return label in ("EDF Annotations", "BDF Annotations")


def _edf_data_signals(ref: EdfRef) -> list[tuple[int, EdfSignalRef]]:
    return [(i, s) for i, s in enumerate(ref.signals) if not _is_annotation_signal(s.label)]


def _edf_decode(path: Path, ref: EdfRef, sig: int) -> NDArray[np.float64]:
    """Plain numpy decoder: every data record's samples of one signal, concatenated."""
    width = 3 if ref.bdf else 2
    record_samples = sum(s.spr for s in ref.signals)
    data = np.fromfile(path, dtype=np.uint8, offset=ref.header_bytes)
    data = data[: ref.n_records * record_samples * width].reshape(ref.n_records, -1)
    start = sum(s.spr for s in ref.signals[:sig]) * width
    block = data[:, start:start + ref.signals[sig].spr * width].reshape(-1, width)
    if ref.bdf:
        v = (block[:, 0].astype(np.int32) | (block[:, 1].astype(np.int32) << 8)
             | (block[:, 2].astype(np.int32) << 16))
        v[v >= 1 << 23] -= 1 << 24
    else:
        v = block.copy().view("<i2").reshape(-1).astype(np.int32)
    s = ref.signals[sig]
    scale = (s.phys_max - s.phys_min) / (s.dig_max - s.dig_min)
    return np.asarray((v - s.dig_min) * scale + s.phys_min, dtype=np.float64)


def _mne_raw(path: Path) -> mne.io.BaseRaw:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = mne.io.read_raw_bdf if path.suffix.lower() == ".bdf" else mne.io.read_raw_edf
        return reader(path, preload=False, verbose="error")


def _norm_unit(u: str) -> str:
    return u.replace("µ", "u").replace("μ", "u")


# --- the battery ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_lazy_ranges_equal_the_slice_of_a_full_read(case: str) -> None:
    rec = _open(case)
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    for ch in rec.channels:
        full = rec.read(ch.index)
        assert full.dtype == np.float32 and full.shape == (ch.n_samples,)
        n = ch.n_samples
        ranges = [(0, min(n, 1)), (max(n - 3, 0), n), (n // 2, n // 2), (1, min(n, 4))]
        for _ in range(4):
            a, b = sorted(int(x) for x in rng.integers(0, n + 1, size=2))
            ranges.append((a, b))
        for a, b in ranges:
            part = rec.read(ch.index, a, b)
            np.testing.assert_array_equal(part, full[a:b], err_msg=f"{ch.name} [{a}, {b})")


@pytest.mark.parametrize("case", CASES)
def test_physical_values_match_the_reference_reader(
    case: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rec = _open(case)
    path = need_shared(*case.split("/"))
    if _is_wfdb(case):
        ref = wfdb.rdrecord(_wfdb_reference_name(case, tmp_path_factory.getbasetemp()),
                            physical=True)
        for ch in rec.channels:
            np.testing.assert_allclose(rec.read(ch.index), ref.p_signal[:, ch.index],
                                       rtol=1e-6, atol=1e-6 / float(ref.adc_gain[ch.index]),
                                       err_msg=ch.name)
        return
    hdr = _edf_header(path)
    raw = _mne_raw(path)
    mne_names = raw.ch_names
    mne_types = raw.get_channel_types()
    for ch, (i, sig) in zip(rec.channels, _edf_data_signals(hdr), strict=True):
        got = rec.read(ch.index)
        expected = _edf_decode(path, hdr, i)
        step = abs(sig.phys_max - sig.phys_min) / max(sig.dig_max - sig.dig_min, 1)
        values = got[~np.isnan(got)] if hdr.discontinuous else got
        np.testing.assert_allclose(values, expected, rtol=1e-5, atol=step * 1e-3,
                                   err_msg=f"{ch.name} vs numpy decoder")
        # MNE resamples slower channels, lays EDF+D records end to end and turns status
        # channels into trigger codes: compare the other channels.
        if (hdr.discontinuous or ch.fs != raw.info["sfreq"] or len(mne_names) != len(rec.channels)
                or mne_types[ch.index] == "stim"):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mne_data = raw.get_data(picks=[ch.index])[0]
        assert _matches_up_to_unit_scale(got, mne_data, step), f"{ch.name} vs MNE"


def _matches_up_to_unit_scale(got: NDArray[np.float32], mne_data: NDArray[np.float64],
                              step: float) -> bool:
    """MNE converts the units it knows (case-sensitively) to SI; allow exactly those factors."""
    return any(
        np.allclose(got, mne_data / scale, rtol=1e-5, atol=step * 1e-3)
        for scale in (1.0, 1e-3, 1e-6, 1e-9)
    )


@pytest.mark.parametrize("case", CASES)
def test_channel_metadata_matches_the_reference(
    case: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rec = _open(case)
    path = need_shared(*case.split("/"))
    assert path in rec.source_files
    assert [c.index for c in rec.channels] == list(range(len(rec.channels)))
    if _is_wfdb(case):
        ref = wfdb.rdheader(_wfdb_reference_name(case, tmp_path_factory.getbasetemp()))
        spf = ref.samps_per_frame or [1] * ref.n_sig
        assert [c.name for c in rec.channels] == ref.sig_name
        assert [c.unit for c in rec.channels] == ref.units
        assert [c.fs for c in rec.channels] == [ref.fs * k for k in spf]
        assert [c.n_samples for c in rec.channels] == [ref.sig_len * k for k in spf]
        assert rec.format == "wfdb"
        return
    hdr = _edf_header(path)
    sigs = [s for _, s in _edf_data_signals(hdr)]
    assert [c.name for c in rec.channels] == [s.label for s in sigs]
    assert [_norm_unit(c.unit) for c in rec.channels] == [_norm_unit(s.unit) for s in sigs]
    assert [c.fs for c in rec.channels] == pytest.approx([s.spr / hdr.record_s for s in sigs])
    for c, s in zip(rec.channels, sigs, strict=True):
        if hdr.discontinuous:
            assert c.n_samples >= hdr.n_records * s.spr
        else:
            assert c.n_samples == hdr.n_records * s.spr
    assert rec.format in ("edf", "edf+c", "edf+d", "bdf", "bdf+")


@pytest.mark.parametrize("case", CASES)
def test_annotation_counts_match_the_reference(
    case: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rec = _open(case)
    path = need_shared(*case.split("/"))
    anns = rec.annotations()
    assert [a.onset_s for a in anns] == sorted(a.onset_s for a in anns)
    if not _is_wfdb(case):
        link = tmp_path_factory.mktemp("ann") / f"rec{path.suffix.lower()}"
        link.symlink_to(path)  # mne.read_annotations goes by the (lower-case) suffix
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = len(mne.read_annotations(link))
        assert len(anns) == expected
        return
    expected = 0
    for ext in ANNOTATION_EXTENSIONS:
        f = path.with_suffix(f".{ext}")
        if f.exists():
            ref = wfdb.rdann(str(path.with_suffix("")), ext)
            expected += len(ref.sample)
            n_beats = sum(s in BEAT_SYMBOLS for s in ref.symbol)
            assert sum(a.kind == "beat" and a.source == ext for a in anns) == n_beats
            assert f in rec.source_files
    assert len(anns) == expected
