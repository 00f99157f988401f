"""Synthetic multichannel scalp EEG with focal seizures, artifacts and known truth.

Model
-----
- Background (awake adult): per channel, 1/f + delta + theta + alpha + beta components
  (:mod:`signal_io.synth._spectral`), switching every 20-120 s between eyes closed (posterior
  alpha), eyes open (alpha blocked, more beta, frequent blinks) and drowsy (theta); neighbouring
  channels share part of their noise.
- Seizures: rhythmic discharges starting in a focal set of electrodes (those within ~1 electrode
  spacing of a random focus) and spreading to neighbours with a delay proportional to distance
  (some seizures generalise). The discharge starts at 5-8 Hz with low amplitude (sometimes
  preceded by 2-4 s of low-amplitude fast activity), grows to 100-250 µV within the first
  quarter, slows to 1.8-3 Hz by the end, and evolves from sinusoidal to spike-and-wave-like
  morphology. After the offset, involved channels show post-ictal slowing (delta up, alpha down)
  that fades over 1-4 min.
- Artifacts: eye blinks (frontal poles), muscle bursts (temporal chains), electrode pops (one
  channel).

Truth: ``seizures`` as ``(onset_s, offset_s, channels)`` where ``channels`` lists every
channel the discharge reaches (gain >= 0.3 of the focus) in order of involvement; ``artifacts``
as ``(onset_s, duration_s, kind, channels)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from signal_io.synth import _spectral as sp
from signal_io.synth import _waves as wv
from signal_io.synth._psg_parts import COMPONENTS, REGION_GAIN, SHARED_FRACTION, _spectral_channels
from signal_io.synth.psg import SynthChannel

#: Electrode positions (x: left -> right, y: back -> front), 10-20 first, then 10-10 extras.
ELECTRODES: dict[str, tuple[float, float]] = {
    "Fp1": (-1.0, 2.0), "Fp2": (1.0, 2.0), "F7": (-2.0, 1.0), "F3": (-1.0, 1.0),
    "Fz": (0.0, 1.0), "F4": (1.0, 1.0), "F8": (2.0, 1.0), "T3": (-2.5, 0.0),
    "C3": (-1.0, 0.0), "Cz": (0.0, 0.0), "C4": (1.0, 0.0), "T4": (2.5, 0.0),
    "T5": (-2.0, -1.0), "P3": (-1.0, -1.0), "Pz": (0.0, -1.0), "P4": (1.0, -1.0),
    "T6": (2.0, -1.0), "O1": (-1.0, -2.0), "O2": (1.0, -2.0),
    "AF3": (-0.6, 1.5), "AF4": (0.6, 1.5), "FC1": (-0.5, 0.5), "FC2": (0.5, 0.5),
    "FC5": (-1.7, 0.5), "FC6": (1.7, 0.5), "CP1": (-0.5, -0.5), "CP2": (0.5, -0.5),
    "CP5": (-1.7, -0.5), "CP6": (1.7, -0.5), "PO3": (-0.6, -1.5), "PO4": (0.6, -1.5),
    "Oz": (0.0, -2.0),
}  # fmt: skip
CHANNEL_SUFFIX = "-Ref"

# Background states: RMS (µV) of pink, delta, theta, alpha, beta at a central electrode.
_STATE_RMS = np.array(
    [
        [9.0, 5.0, 5.0, 12.0, 4.0],  # eyes closed
        [9.0, 5.0, 5.0, 3.0, 6.0],  # eyes open
        [9.0, 8.0, 11.0, 4.0, 3.0],  # drowsy
    ]
)
_STATE_P = np.array([0.45, 0.4, 0.15])
_INVOLVED_GAIN = 0.3


@dataclass(frozen=True)
class SynthEEG:
    """Synthetic scalp EEG and its truth.

    Attributes
    ----------
    channels
        EEG channels (``"Fp1-Ref"``, ...), µV, all at the same rate.
    seizures
        ``(onset_s, offset_s, channels)``; ``channels`` in order of involvement, focus first.
    artifacts
        ``(onset_s, duration_s, kind, channels)`` with kind ``"blink"``, ``"muscle"`` or
        ``"electrode pop"``.
    seed
        Seed the recording was made with.
    params
        Generator parameters, for truth files.
    """

    channels: list[SynthChannel]
    seizures: list[tuple[float, float, tuple[str, ...]]]
    artifacts: list[tuple[float, float, str, tuple[str, ...]]] = field(default_factory=list)
    seed: int = 0
    params: dict[str, object] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        ch = self.channels[0]
        return ch.data.size / ch.fs


def _region(electrode: str) -> str:
    if electrode.startswith(("Fp", "AF")):
        return "Fp"
    return electrode[0].upper()


def _default_seizures(rng: np.random.Generator, duration_s: float) -> list[tuple[float, float]]:
    if duration_s < 120.0:
        return []
    n = max(1, round(duration_s / 1200.0))
    slot = duration_s / n
    out = []
    for i in range(n):
        dur = float(rng.uniform(30.0, 90.0)) if slot >= 300.0 else min(40.0, 0.3 * slot)
        lo, hi = i * slot + min(60.0, 0.2 * slot), (i + 1) * slot - dur - min(180.0, 0.3 * slot)
        onset = float(rng.uniform(lo, hi)) if hi > lo else i * slot + 0.5 * (slot - dur)
        out.append((onset, onset + dur))
    return out


def _state_levels(
    rng: np.random.Generator, n_sec: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Per-second component RMS (n_sec, 5) and state index (n_sec,)."""
    state = np.zeros(n_sec, dtype=np.int64)
    t = 0
    while t < n_sec:
        length = int(rng.uniform(20.0, 120.0))
        state[t : t + length] = rng.choice(3, p=_STATE_P)
        t += length
    jitter = np.repeat(rng.lognormal(0.0, 0.12, (n_sec // 10 + 1, 5)), 10, axis=0)[:n_sec]
    return _STATE_RMS[state] * jitter, state


def make_seizure_eeg(
    duration_s: float,
    *,
    seed: int,
    fs: float = 256.0,
    n_channels: int = 19,
    seizures: Sequence[tuple[float, float]] | None = None,
    artifacts: bool = True,
) -> SynthEEG:
    """Generate scalp EEG with evolving focal seizures at known times.

    Parameters
    ----------
    duration_s
        Length in seconds (>= 10).
    seed
        Seed; the same arguments and seed give the same recording.
    fs
        Sampling rate in Hz (64-4096).
    n_channels
        Number of electrodes, 1-32: the 19 of the 10-20 system first, then 10-10 extras.
    seizures
        ``(onset_s, offset_s)`` of each seizure; ``None`` draws about one seizure per 20 min
        (30-90 s long, none in recordings shorter than 2 min).
    artifacts
        Add blinks, muscle bursts and electrode pops.

    Returns
    -------
    SynthEEG

    Raises
    ------
    ValueError
        A parameter is out of range or seizures overlap or leave the recording.
    """
    if duration_s < 10.0:
        raise ValueError(f"duration_s must be >= 10 s, got {duration_s}")
    if not 1 <= n_channels <= len(ELECTRODES):
        raise ValueError(f"n_channels must be within 1-{len(ELECTRODES)}, got {n_channels}")
    if not 64.0 <= fs <= 4096.0:
        raise ValueError(f"fs={fs} Hz is outside the supported range 64-4096 Hz")
    seq = np.random.SeedSequence(seed)
    r_sz, r_bg, r_dis, r_art = (np.random.default_rng(s) for s in seq.spawn(4))
    spans = _default_seizures(r_sz, duration_s) if seizures is None else sorted(seizures)
    for i, (on, off) in enumerate(spans):
        if not 0.0 <= on < off <= duration_s:
            raise ValueError(f"seizure ({on}, {off}) must satisfy 0 <= onset < offset <= "
                             f"duration_s={duration_s}")
        if i and on < spans[i - 1][1]:
            raise ValueError(f"seizures {spans[i - 1]} and {(on, off)} overlap")

    electrodes = list(ELECTRODES)[:n_channels]
    names = [e + CHANNEL_SUFFIX for e in electrodes]
    pos = np.array([ELECTRODES[e] for e in electrodes])
    n = round(duration_s * fs)
    n_sec = int(np.ceil(duration_s))

    plans = [_plan_seizure(r_dis, on, off, pos) for on, off in spans]
    rms, state = _state_levels(r_bg, n_sec)
    base_var = rms**2
    grid = sp.FrameGrid.for_signal(n, fs, 2.0)
    psd = np.stack([grid.unit_psd(sp.band_shape(grid.freqs_hz, k, lo, min(hi, 0.45 * fs)))
                    for k, lo, hi in COMPONENTS])
    ts = np.arange(n_sec, dtype=np.float64)
    per_ch = []
    for c, e in enumerate(electrodes):
        mult = np.ones((n_sec, 5))
        for plan in plans:
            g = plan.gain[c]
            if g < _INVOLVED_GAIN:
                continue
            during = (ts >= plan.onset_s) & (ts < plan.offset_s)
            mult[during] *= 0.6
            after = ts >= plan.offset_s
            decay = np.exp(-(ts[after] - plan.offset_s) / plan.postictal_s) * min(g, 1.0)
            mult[after, 1] *= 1.0 + 12.0 * decay  # delta up
            mult[after, 2] *= 1.0 + 3.0 * decay  # theta up
            mult[after, 3] *= 1.0 - 0.85 * decay  # alpha down
            mult[after, 4] *= 1.0 - 0.6 * decay  # beta down
        var = base_var * mult * REGION_GAIN[_region(e)] ** 2
        per_ch.append(sp.box_average(var, grid.centres_s, 2.0))
    data = _spectral_channels(grid, per_ch, psd, r_bg, SHARED_FRACTION)

    truth = []
    for plan in plans:
        _render_seizure(data, fs, plan, r_dis)
        order = np.argsort(plan.delay_s, kind="stable")
        involved = tuple(names[i] for i in order if plan.gain[i] >= _INVOLVED_GAIN
                         and plan.delay_s[i] < plan.offset_s - plan.onset_s)
        truth.append((plan.onset_s, plan.offset_s, involved))
    art: list[tuple[float, float, str, tuple[str, ...]]] = []
    if artifacts:
        art = _add_artifacts(data, names, electrodes, fs, state, r_art)
    channels = [SynthChannel(nm, "EEG", "uV", float(fs), x) for nm, x in zip(names, data,
                                                                              strict=True)]
    params: dict[str, object] = {
        "duration_s": duration_s, "fs": fs, "n_channels": n_channels,
        "seizures": [list(s) for s in spans], "artifacts": artifacts,
    }
    return SynthEEG(channels=channels, seizures=truth, artifacts=art, seed=seed, params=params)


@dataclass
class _SeizurePlan:
    onset_s: float
    offset_s: float
    gain: NDArray[np.float64]  # (n_ch,) relative amplitude per channel
    delay_s: NDArray[np.float64]  # (n_ch,) time after onset the channel joins
    amp_uv: float
    f_start_hz: float
    f_end_hz: float
    fast_onset_s: float
    postictal_s: float


def _plan_seizure(
    rng: np.random.Generator, onset_s: float, offset_s: float, pos: NDArray[np.float64]
) -> _SeizurePlan:
    focus = int(rng.integers(pos.shape[0]))
    dist = np.hypot(*(pos - pos[focus]).T)
    gain = np.exp(-dist / 1.4)
    delay = np.where(dist <= 1.2, dist * rng.uniform(0.0, 1.0), dist * rng.uniform(3.0, 6.0))
    if rng.random() < 0.4:  # secondary generalisation
        gain = np.maximum(gain, rng.uniform(0.4, 0.6))
    return _SeizurePlan(
        onset_s=float(onset_s), offset_s=float(offset_s), gain=gain, delay_s=delay,
        amp_uv=float(rng.uniform(100.0, 250.0)), f_start_hz=float(rng.uniform(5.0, 8.0)),
        f_end_hz=float(rng.uniform(1.8, 3.0)),
        fast_onset_s=float(rng.uniform(2.0, 4.0)) if rng.random() < 0.5 else 0.0,
        postictal_s=float(rng.uniform(60.0, 240.0)) / 2.0,
    )


def _render_seizure(
    data: list[NDArray[np.float32]], fs: float, plan: _SeizurePlan, rng: np.random.Generator
) -> None:
    dur = plan.offset_s - plan.onset_s
    i0 = round(plan.onset_s * fs)
    m = min(round(dur * fs), data[0].size - i0)
    t = np.arange(m) / fs
    u = t / dur
    freq = plan.f_start_hz * (plan.f_end_hz / plan.f_start_hz) ** u
    phase = 2.0 * np.pi * np.cumsum(freq) / fs
    rise = np.clip(0.2 + 0.8 * u / 0.25, 0.0, 1.0)
    fall = np.clip((1.0 - u) / 0.06, 0.0, 1.0)
    env = plan.amp_uv * rise * fall
    morph = np.clip(u * 1.5, 0.0, 1.0)  # sinusoidal -> spike-and-wave-like
    wave = np.sin(phase) + morph * (0.6 * np.sin(2 * phase) + 0.35 * np.sin(3 * phase)
                                    + 0.2 * np.sin(4 * phase))
    fast = np.zeros(m)
    if plan.fast_onset_s > 0:
        k = min(int(plan.fast_onset_s * fs), m)
        fast[:k] = 20.0 * np.sin(np.pi * t[:k] / plan.fast_onset_s) * \
            sp.bandpass_noise(rng, k, fs, 15.0, 25.0)
        env = env * np.clip((t - 0.5 * plan.fast_onset_s) / (0.5 * plan.fast_onset_s), 0.0, 1.0)
    for c, x in enumerate(data):
        g = float(plan.gain[c])
        if g < 0.05:
            continue
        join = np.clip((t - plan.delay_s[c]) / 3.0, 0.0, 1.0)
        lag = round(0.004 * plan.delay_s[c] * fs)  # a few ms of lag per spread second
        w = np.roll(wave, lag) if lag else wave
        sig = g * join * env * w
        if g >= 0.9:
            sig = sig + fast
        x[i0 : i0 + m] += sig.astype(np.float32)


def _add_artifacts(
    data: list[NDArray[np.float32]],
    names: list[str],
    electrodes: list[str],
    fs: float,
    state: NDArray[np.int64],
    rng: np.random.Generator,
) -> list[tuple[float, float, str, tuple[str, ...]]]:
    n_sec = state.size
    out: list[tuple[float, float, str, tuple[str, ...]]] = []
    blink_gain = {e: (1.0 if e.startswith("Fp") else 0.5 if e.startswith("AF") else
                      0.3 if e.startswith("F") else 0.05) for e in electrodes}
    # blinks: ~15/min with eyes open, ~2/min otherwise
    rate = np.where(state == 1, 15.0 / 60.0, 2.0 / 60.0)
    times = np.nonzero(rng.random(n_sec) < rate)[0] + rng.uniform(0.0, 1.0)
    frontal = tuple(nm for nm, e in zip(names, electrodes, strict=True) if blink_gain[e] >= 0.3)
    for t in times:
        if t > n_sec - 1.0:
            continue
        wave = wv.blink(fs, float(rng.uniform(100.0, 220.0)))
        for x, e in zip(data, electrodes, strict=True):
            wv.add_at(x, fs, float(t), blink_gain[e] * wave)
        if frontal:
            out.append((float(t), 0.4, "blink", frontal))
    # muscle bursts over one temporal chain, ~1/min
    chains = [["F7", "T3", "T5", "FC5", "CP5"], ["F8", "T4", "T6", "FC6", "CP6"]]
    for t in np.sort(rng.uniform(0.0, max(n_sec - 6.0, 0.0), rng.poisson(n_sec / 60.0))):
        dur = float(rng.uniform(1.0, 5.0))
        chain = chains[int(rng.integers(2))]
        hit = [i for i, e in enumerate(electrodes) if e in chain]
        if not hit:
            continue
        rms = float(rng.uniform(15.0, 40.0))
        for i in hit:
            wv.add_at(data[i], fs, float(t), wv.burst(rng, fs, dur, rms, 20.0, 100.0))
        out.append((float(t), dur, "muscle", tuple(names[i] for i in hit)))
    # electrode pops, ~0.3/min, one channel
    for t in np.sort(rng.uniform(0.0, max(n_sec - 3.0, 0.0), rng.poisson(0.3 * n_sec / 60.0))):
        i = int(rng.integers(len(data)))
        amp = float(rng.choice([-1.0, 1.0]) * rng.uniform(100.0, 300.0))
        wv.add_at(data[i], fs, float(t), wv.eye_step(fs, amp, 0.005, 0.3))
        out.append((float(t), 1.0, "electrode pop", (names[i],)))
    out.sort(key=lambda a: a[0])
    return out


__all__ = ["CHANNEL_SUFFIX", "ELECTRODES", "SynthEEG", "make_seizure_eeg"]
