"""Synthetic single-lead ECG with beat-by-beat truth.

Model
-----
Each beat is a sum of Gaussian waves (P, Q, R, S and a two-part T) placed relative to the beat's
R-peak time, in the spirit of the dynamical model of McSharry et al. (2003, IEEE TBME 50:289,
"ECGSYN") but rendered directly in time rather than by integrating the ODE. The beat sequence is
built first, so the truth is exact by construction:

- sinus rhythm: RR from a heart-rate series with respiratory sinus arrhythmia (0.2-0.3 Hz),
  a Mayer wave (~0.1 Hz) and a slow random drift; QT follows RR (Bazett-like scaling);
- PVCs (``"V"``): premature (coupling 55-70 % of RR), wide (QRS >= 120 ms), opposite polarity,
  no P wave, discordant T, followed by a full compensatory pause (sinus node not reset);
- SVPBs (``"A"``): premature (65-80 % of RR), normal QRS, abnormal (inverted or flattened) or
  absent P wave, sinus node reset (non-compensatory pause);
- atrial fibrillation: irregularly irregular RR (independent draws, CV ~0.2), no P waves,
  fibrillatory f-waves (4-9 Hz, 30-100 uV, frequency-modulated);
- ventricular tachycardia runs (``vt_episodes``): consecutive wide beats at 150-200 bpm;
- pauses (sinus arrest): one RR interval replaced by the requested pause length;
- noise bursts: EMG-like broadband noise (20-150 Hz) plus motion artifact (0.3-3 Hz);
- baseline wander (respiration + slow drift), optional mains hum, small white noise.

The R-peak time of each beat is the extremum of its QRS complex (the QRS fiducial), within one
sample. All amplitudes are in mV before ``amplitude_mv`` scaling and ``polarity``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from signal_io.synth import _ecg_render as render
from signal_io.synth._ecg_render import Beat

#: Supported sampling rates in Hz (inclusive).
FS_RANGE_HZ = (100.0, 2000.0)

Rhythm = tuple[float, float, str]


@dataclass(frozen=True)
class SynthECG:
    """A synthetic ECG and its truth.

    Attributes
    ----------
    signal
        (n,) float32 ECG in mV.
    fs
        Sampling rate in Hz.
    beats_s
        (n_beats,) true R-peak (QRS fiducial) times in seconds from the start.
    beat_labels
        (n_beats,) MIT-BIH beat symbols: ``"N"`` normal (sinus or conducted AF), ``"V"`` PVC or
        VT beat, ``"A"`` supraventricular premature beat.
    rhythms
        ``(onset_s, offset_s, label)`` sorted by onset. The underlying rhythm (``"N"`` sinus,
        ``"AFIB"``, ``"VT"``) tiles ``[0, duration)`` without overlap; ``"PAUSE"`` (from the
        beat before to the beat after a sinus arrest) and ``"NOISE"`` (noise bursts) are
        listed as well and overlap the underlying rhythm.
    seed
        Seed the recording was made with.
    params
        Generator parameters, for truth files.
    """

    signal: NDArray[np.float32]
    fs: float
    beats_s: NDArray[np.float64]
    beat_labels: NDArray[np.str_]
    rhythms: list[Rhythm]
    seed: int = 0
    params: dict[str, object] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Length of the signal in seconds."""
        return self.signal.size / self.fs


def _check_spans(name: str, spans: Sequence[tuple[float, float]], duration_s: float) -> None:
    for onset, offset in spans:
        if not (0.0 <= onset < offset <= duration_s):
            raise ValueError(
                f"{name} entry ({onset}, {offset}) must be (onset_s, offset_s) with "
                f"0 <= onset_s < offset_s <= duration_s={duration_s}"
            )


def _heart_rate_series(
    rng: np.random.Generator,
    duration_s: float,
    heart_rate_bpm: float,
    hr_trend: tuple[NDArray[np.float64], NDArray[np.float64]] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Instantaneous sinus heart rate on a 4-Hz grid: (times_s, bpm)."""
    step = 0.25
    t = np.arange(0.0, duration_s + 10.0, step)
    if hr_trend is None:
        # slow drift: random walk at 1 point per 20 s, smoothed, +-8 % of the base rate
        n_knots = max(int(t[-1] / 20.0) + 2, 2)
        walk = np.cumsum(rng.normal(0.0, 0.025, n_knots))
        walk -= walk.mean()
        walk = np.clip(walk, -0.08, 0.08)
        base = heart_rate_bpm * (1.0 + np.interp(t, np.arange(n_knots) * 20.0, walk))
    else:
        times, bpm = hr_trend
        base = np.interp(t, np.asarray(times, dtype=np.float64), np.asarray(bpm, dtype=np.float64))
    resp_hz = rng.uniform(0.2, 0.3)
    mayer_hz = rng.uniform(0.08, 0.12)
    phase = rng.uniform(0.0, 2.0 * np.pi, 2)
    rsa = 0.035 * np.sin(2.0 * np.pi * resp_hz * t + phase[0])
    mayer = 0.02 * np.sin(2.0 * np.pi * mayer_hz * t + phase[1])
    return t, base * (1.0 + rsa + mayer)


def _in_spans(t: float, spans: Sequence[tuple[float, float]]) -> bool:
    return any(a <= t < b for a, b in spans)


def _build_beats(
    rng: np.random.Generator,
    duration_s: float,
    heart_rate_bpm: float,
    pvc_fraction: float,
    svpb_fraction: float,
    af_episodes: Sequence[tuple[float, float]],
    vt_episodes: Sequence[tuple[float, float]],
    pauses_s: Sequence[tuple[float, float]],
    hr_trend: tuple[NDArray[np.float64], NDArray[np.float64]] | None,
) -> list[Beat]:
    hr_t, hr_bpm = _heart_rate_series(rng, duration_s, heart_rate_bpm, hr_trend)

    def sinus_rr(t: float) -> float:
        return float(60.0 / np.interp(t, hr_t, hr_bpm))

    pending_pauses = sorted(pauses_s)
    beats: list[Beat] = []
    t = float(rng.uniform(0.25, 0.6))
    prev_time = t - sinus_rr(t)
    last_was_ectopic = False
    while True:
        if _in_spans(t, vt_episodes):
            rr = 60.0 / rng.uniform(150.0, 200.0) * rng.uniform(0.97, 1.03)
            if t >= duration_s:
                break
            beats.append(Beat(t, "V", "none", t - prev_time))
            prev_time = t
            t = t + rr
            last_was_ectopic = True
            continue
        if _in_spans(t, af_episodes):
            if t >= duration_s:
                break
            label = "V" if rng.random() < pvc_fraction else "N"
            beats.append(Beat(t, label, "none", t - prev_time))
            prev_time = t
            mean_rr = 60.0 / (heart_rate_bpm * 1.25)
            rr = float(np.clip(rng.gamma(25.0, mean_rr / 25.0) * rng.choice([0.8, 1.0, 1.25]),
                               0.33, 2.0))
            t = t + rr
            continue
        # sinus node drives this beat
        if t >= duration_s:
            break
        rr = sinus_rr(t)
        label, p_kind = "N", "normal"
        if not last_was_ectopic and beats and not beats[-1].pause_after and t - prev_time > 0.4:
            u = rng.random()
            if u < pvc_fraction:
                # PVC replaces the expected sinus beat: premature, then compensatory pause
                coupling = rr * rng.uniform(0.55, 0.70)
                t_pvc = prev_time + coupling
                if t_pvc < duration_s:
                    beats.append(Beat(t_pvc, "V", "none", coupling))
                    prev_time = t_pvc
                    last_was_ectopic = True
                    t = t + rr  # the hidden sinus beat at t is blocked
                    continue
            elif u < pvc_fraction + svpb_fraction:
                coupling = rr * rng.uniform(0.65, 0.80)
                t_a = prev_time + coupling
                if t_a < duration_s:
                    p = "abnormal" if rng.random() < 0.7 else "none"
                    beats.append(Beat(t_a, "A", p, coupling))
                    prev_time = t_a
                    last_was_ectopic = True
                    t = t_a + sinus_rr(t_a)  # sinus node reset
                    continue
        beat = Beat(t, label, p_kind, t - prev_time)
        beats.append(beat)
        last_was_ectopic = False
        prev_time = t
        step = rr
        if pending_pauses and pending_pauses[0][0] <= t:
            _, pause_len = pending_pauses.pop(0)
            step = max(float(pause_len), rr)
            beat.pause_after = True
        t = t + step
    return beats


def _base_rhythms(
    duration_s: float,
    af_episodes: Sequence[tuple[float, float]],
    vt_episodes: Sequence[tuple[float, float]],
) -> list[Rhythm]:
    """Tile [0, duration) with N / AFIB / VT from the episode spans."""
    marks: list[tuple[float, float, str]] = [(a, b, "AFIB") for a, b in af_episodes]
    marks += [(a, b, "VT") for a, b in vt_episodes]
    marks.sort()
    out: list[Rhythm] = []
    t = 0.0
    for a, b, lab in marks:
        if a > t:
            out.append((t, a, "N"))
        out.append((max(a, t), b, lab))
        t = max(t, b)
    if t < duration_s:
        out.append((t, duration_s, "N"))
    return [r for r in out if r[1] > r[0]]


def make_ecg(
    fs: float,
    duration_s: float,
    *,
    seed: int,
    heart_rate_bpm: float = 70.0,
    pvc_fraction: float = 0.05,
    svpb_fraction: float = 0.02,
    af_episodes: Sequence[tuple[float, float]] = (),
    pauses_s: Sequence[tuple[float, float]] = (),
    noise_bursts: Sequence[tuple[float, float]] = (),
    baseline_wander: bool = True,
    amplitude_mv: float = 1.0,
    polarity: int = 1,
    wide_pvc: bool = True,
    vt_episodes: Sequence[tuple[float, float]] = (),
    mains_hz: float | None = None,
    mains_mv: float = 0.02,
    white_noise_mv: float = 0.008,
    hr_trend: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
) -> SynthECG:
    """Generate a single-lead ECG with known beats and rhythms.

    Parameters
    ----------
    fs
        Sampling rate in Hz, 100-2000 (tested 128-1000).
    duration_s
        Length in seconds (> 0).
    seed
        Seed of the random generator; the same arguments and seed give the same recording.
    heart_rate_bpm
        Mean sinus rate in beats per minute (30-200).
    pvc_fraction, svpb_fraction
        Probability that a sinus beat is replaced by a PVC / an SVPB (ectopics never follow
        each other, so the realised fractions are slightly lower).
    af_episodes
        ``(onset_s, offset_s)`` spans of atrial fibrillation (AF and VT spans must not
        overlap one another).
    pauses_s
        ``(time_s, pause_length_s)``: the first sinus beat at or after ``time_s`` is followed
        by an RR interval of ``pause_length_s`` (sinus arrest).
    noise_bursts
        ``(onset_s, offset_s)`` spans of EMG + motion noise.
    baseline_wander
        Add respiratory and slow baseline wander.
    amplitude_mv
        Scale of the whole signal (R amplitude of a normal beat, in mV).
    polarity
        ``1`` or ``-1`` (inverted lead).
    wide_pvc
        Kept for API compatibility: PVCs are always wide (QRS >= 120 ms); ``False`` narrows
        them to ~100 ms (fascicular-like ectopy).
    vt_episodes
        ``(onset_s, offset_s)`` runs of ventricular tachycardia (150-200 bpm, every beat ``V``).
    mains_hz
        Add mains hum at this frequency (50 or 60) when given.
    mains_mv
        Mains hum amplitude in mV.
    white_noise_mv
        Standard deviation of additive white noise in mV.
    hr_trend
        ``(times_s, bpm)`` to impose the sinus rate (replaces the random slow drift); used by
        the PSG generator to follow sleep stages.

    Returns
    -------
    SynthECG

    Raises
    ------
    ValueError
        A parameter is out of range or an episode span is malformed.
    """
    if not (FS_RANGE_HZ[0] <= fs <= FS_RANGE_HZ[1]):
        raise ValueError(f"fs={fs} Hz is outside the supported range {FS_RANGE_HZ} Hz")
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    if not 30.0 <= heart_rate_bpm <= 200.0:
        raise ValueError(f"heart_rate_bpm must be within 30-200, got {heart_rate_bpm}")
    if polarity not in (1, -1):
        raise ValueError(f"polarity must be 1 or -1, got {polarity}")
    for name, frac in (("pvc_fraction", pvc_fraction), ("svpb_fraction", svpb_fraction)):
        if not 0.0 <= frac <= 0.5:
            raise ValueError(f"{name} must be within 0-0.5, got {frac}")
    _check_spans("af_episodes", af_episodes, duration_s)
    _check_spans("vt_episodes", vt_episodes, duration_s)
    _check_spans("noise_bursts", noise_bursts, duration_s)
    episodes = sorted([*af_episodes, *vt_episodes])
    for (_, end), (start, _) in itertools.pairwise(episodes):
        if start < end:
            raise ValueError(
                f"af_episodes and vt_episodes must not overlap; a span starting at {start} s "
                f"begins before the previous one ends at {end} s"
            )
    for time_s, length_s in pauses_s:
        if not (0.0 <= time_s < duration_s and 1.0 <= length_s <= 30.0):
            raise ValueError(
                f"pauses_s entry ({time_s}, {length_s}) must be (time_s, pause_length_s) with "
                f"0 <= time_s < duration_s and 1 <= pause_length_s <= 30"
            )

    seq = np.random.SeedSequence(seed)
    r_beats, r_render, r_af, r_noise, r_base = (np.random.default_rng(s) for s in seq.spawn(5))
    n = round(duration_s * fs)
    beats = _build_beats(
        r_beats, n / fs, heart_rate_bpm, pvc_fraction, svpb_fraction,
        af_episodes, vt_episodes, pauses_s, hr_trend,
    )
    sig = render.render_beats(n, fs, beats, r_render, wide_pvc=wide_pvc)
    sig += render.af_waves(n, fs, af_episodes, r_af)
    if noise_bursts:
        sig += render.noise_bursts(n, fs, noise_bursts, r_noise)
    if baseline_wander:
        sig += render.baseline_wander(n, fs, r_base)
    if mains_hz is not None:
        t = np.arange(n) / fs
        sig += mains_mv * np.sin(2.0 * np.pi * mains_hz * t)
    if white_noise_mv > 0:
        sig += r_noise.normal(0.0, white_noise_mv, n)
    sig *= amplitude_mv * polarity

    times = np.array([b.time_s for b in beats], dtype=np.float64)
    labels = np.array([b.label for b in beats], dtype=np.str_)
    rhythms = _base_rhythms(n / fs, af_episodes, vt_episodes)
    for i, b in enumerate(beats[:-1]):
        if b.pause_after:
            rhythms.append((float(times[i]), float(times[i + 1]), "PAUSE"))
    rhythms += [(float(a), float(b), "NOISE") for a, b in noise_bursts]
    rhythms.sort(key=lambda r: (r[0], r[1]))
    params: dict[str, object] = {
        "fs": fs, "duration_s": duration_s, "heart_rate_bpm": heart_rate_bpm,
        "pvc_fraction": pvc_fraction, "svpb_fraction": svpb_fraction,
        "af_episodes": [list(x) for x in af_episodes], "pauses_s": [list(x) for x in pauses_s],
        "noise_bursts": [list(x) for x in noise_bursts],
        "vt_episodes": [list(x) for x in vt_episodes], "baseline_wander": baseline_wander,
        "amplitude_mv": amplitude_mv, "polarity": polarity, "wide_pvc": wide_pvc,
        "mains_hz": mains_hz,
    }
    return SynthECG(
        signal=sig.astype(np.float32), fs=float(fs), beats_s=times, beat_labels=labels,
        rhythms=rhythms, seed=seed, params=params,
    )


__all__ = ["FS_RANGE_HZ", "SynthECG", "make_ecg"]
