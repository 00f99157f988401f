"""Synthetic overnight polysomnogram with a known hypnogram, spindles and K-complexes.

Model
-----
- Hypnogram: :func:`signal_io.synth._hypnogram.make_hypnogram` (sleep-onset latency, 4-5
  NREM/REM cycles, N3 early, REM longer late, brief awakenings).
- EEG background: per channel, a mixture of unit-variance components (1/f background, delta
  0.5-2 Hz, theta 4-7 Hz, alpha 8-12 Hz, beta 15-30 Hz) whose RMS amplitudes follow the stage
  of each epoch and the channel's scalp region (alpha occipital-dominant, delta frontal).
  Synthesised by spectral overlap-add (:mod:`signal_io.synth._spectral`), 4-s frames every 2 s,
  with stage levels box-averaged over 4 s: transitions are smooth, never steps. Part of the
  noise is shared between channels so neighbouring electrodes correlate.
- Transients: sleep spindles (N2, fewer in N3; 11-16 Hz, 0.5-2 s, waxing-waning, central
  dominant), K-complexes (N2; frontal dominant, some followed by a spindle), vertex waves (N1),
  sawtooth-wave trains (REM).
- EOG (E1-M2, E2-M2): frontal EEG leak plus eye movements in opposite polarity on the two
  channels: blinks and saccades in wake, slow rolling movements at sleep onset and in N1, bursts
  of rapid eye movements in REM.
- Chin EMG: broadband 10-100 Hz noise, tone high in wake, lower in NREM, atonia in REM with
  phasic twitches, movement bursts in wake.
- ECG (256 Hz): :func:`signal_io.synth.ecg.make_ecg` with a stage-dependent heart rate.
- Respiration (32 Hz): airflow, thorax and abdomen from one breathing phase (14-17 breaths/min,
  more irregular in wake and REM), apnoeas and hypopnoeas at ``ahi_per_h``, each followed by an
  SpO2 desaturation (1 Hz, integer %).

Amplitudes are in µV except ECG (mV), respiration (arbitrary units) and SpO2 (%).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from signal_io.synth import _psg_parts as parts
from signal_io.synth._hypnogram import STAGES, make_hypnogram
from signal_io.synth._resp import synth_resp_spo2

#: EEG derivations in the order channels are added (6 AASM derivations first, then 10-20).
EEG_DERIVATIONS: tuple[str, ...] = (
    "C3-M2", "C4-M1", "F3-M2", "F4-M1", "O1-M2", "O2-M1",
    "Fp1-M2", "Fp2-M1", "P3-M2", "P4-M1", "F7-M2", "F8-M1",
    "T3-M2", "T4-M1", "T5-M2", "T6-M1", "Fz-M1", "Cz-M2", "Pz-M1",
)  # fmt: skip


@dataclass(frozen=True)
class SynthChannel:
    """One synthetic channel.

    Attributes
    ----------
    name
        Channel label (``"C3-M2"``, ``"E1-M2"``, ``"Chin EMG"``, ``"ECG"``, ``"SpO2"``...).
    kind
        ``"EEG"``, ``"EOG"``, ``"EMG"``, ``"ECG"``, ``"resp"`` or ``"SpO2"`` (the values of
        :class:`signal_io.ChannelKind`).
    unit
        Physical unit (``"uV"``, ``"mV"``, ``"a.u."``, ``"%"``).
    fs
        Sampling rate in Hz.
    data
        (n,) float32 samples in ``unit``.
    """

    name: str
    kind: str
    unit: str
    fs: float
    data: NDArray[np.float32]


@dataclass(frozen=True)
class SynthPSG:
    """A synthetic night and its truth.

    Attributes
    ----------
    channels
        Every channel at its own native rate.
    epoch_s
        Epoch length in seconds (30).
    hypnogram
        (n_epochs,) stage per epoch: ``"W"``, ``"N1"``, ``"N2"``, ``"N3"`` or ``"R"``; epoch
        ``i`` covers ``[i * epoch_s, (i + 1) * epoch_s)``. A last partial epoch is included.
    spindles
        ``(onset_s, duration_s, channel_name)``, one entry per channel on which the spindle's
        peak amplitude is at least 12 µV, sorted by onset. The span is where the spindle's
        envelope is at least 31 % of its peak.
    k_complexes
        ``(onset_s, channel_name)``, one entry per channel on which the negative peak is at
        least 50 µV. The negative peak lies 0.3 s after onset; the complex lasts ~1.3 s.
    vertex_waves
        Onsets (s) of vertex sharp waves (negative peak 0.12 s after onset), central channels.
    sawtooth_waves
        ``(onset_s, duration_s)`` of REM sawtooth-wave trains.
    eye_movements
        ``(onset_s, duration_s, kind)``: ``"blink"``, ``"saccade"``, ``"SEM"`` (slow rolling)
        or ``"REM"`` (rapid), on E1-M2 / E2-M2.
    respiratory_events
        ``(onset_s, duration_s, kind)``: ``"obstructive apnea"`` or ``"hypopnea"``.
    desaturations
        ``(onset_s, duration_s, drop_pct)`` of SpO2 dips caused by respiratory events.
    seed
        Seed the night was made with.
    params
        Generator parameters, for truth files.
    """

    channels: list[SynthChannel]
    epoch_s: float
    hypnogram: NDArray[np.str_]
    spindles: list[tuple[float, float, str]]
    k_complexes: list[tuple[float, str]]
    vertex_waves: list[float] = field(default_factory=list)
    sawtooth_waves: list[tuple[float, float]] = field(default_factory=list)
    eye_movements: list[tuple[float, float, str]] = field(default_factory=list)
    respiratory_events: list[tuple[float, float, str]] = field(default_factory=list)
    desaturations: list[tuple[float, float, float]] = field(default_factory=list)
    seed: int = 0
    params: dict[str, object] = field(default_factory=dict)

    def channel(self, name: str) -> SynthChannel:
        """The channel called ``name``.

        Raises
        ------
        KeyError
            No channel has that name.
        """
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(f"no channel {name!r}; channels are {[c.name for c in self.channels]}")

    @property
    def duration_s(self) -> float:
        """Length of the night in seconds."""
        ch = self.channels[0]
        return ch.data.size / ch.fs


def make_psg(
    duration_s: float = 8 * 3600,
    *,
    seed: int,
    n_eeg: int = 6,
    eeg_fs: float = 256.0,
    emg_fs: float | None = None,
    ecg_fs: float = 256.0,
    resp_fs: float = 32.0,
    spo2_fs: float = 1.0,
    uniform_fs: float | None = None,
    epoch_s: float = 30.0,
    ahi_per_h: float = 4.0,
) -> SynthPSG:
    """Generate a night of polysomnography with known truth.

    Channels, in order: ``n_eeg`` EEG derivations (:data:`EEG_DERIVATIONS`), ``E1-M2``,
    ``E2-M2``, ``Chin EMG``, ``ECG``, ``Airflow``, ``Thorax``, ``Abdomen``, ``SpO2``; that is
    ``n_eeg + 8`` channels.

    Parameters
    ----------
    duration_s
        Length of the night in seconds (>= one epoch).
    seed
        Seed; the same arguments and seed give the same night. The hypnogram depends on the
        seed and duration only, not on the channel set.
    n_eeg
        Number of EEG derivations, 1-19.
    eeg_fs
        EEG and EOG rate in Hz (EMG too unless ``emg_fs`` is given).
    emg_fs
        Chin EMG rate in Hz (e.g. 512); ``eeg_fs`` when ``None``.
    ecg_fs, resp_fs, spo2_fs
        ECG, respiration and SpO2 rates in Hz.
    uniform_fs
        When given, every channel is produced at this rate (overrides the other rates). The
        benchmark night "8 h x 20 channels x 256 Hz" is
        ``make_psg(8 * 3600, seed=..., n_eeg=12, uniform_fs=256.0)``.
    epoch_s
        Scoring epoch length in seconds.
    ahi_per_h
        Apnoea-hypopnoea events per hour of sleep.

    Returns
    -------
    SynthPSG

    Raises
    ------
    ValueError
        A parameter is out of range.
    """
    if not 1 <= n_eeg <= len(EEG_DERIVATIONS):
        raise ValueError(f"n_eeg must be within 1-{len(EEG_DERIVATIONS)}, got {n_eeg}")
    if duration_s < epoch_s:
        raise ValueError(f"duration_s={duration_s} is shorter than one epoch ({epoch_s} s)")
    if uniform_fs is not None:
        eeg_fs = emg_fs = ecg_fs = resp_fs = spo2_fs = uniform_fs
    emg_fs = eeg_fs if emg_fs is None else emg_fs
    for name, rate, lo in (("eeg_fs", eeg_fs, 64.0), ("emg_fs", emg_fs, 64.0),
                           ("ecg_fs", ecg_fs, 100.0), ("resp_fs", resp_fs, 4.0),
                           ("spo2_fs", spo2_fs, 0.5)):
        if not lo <= rate <= 4096.0:
            raise ValueError(f"{name}={rate} Hz is outside the supported range {lo}-4096 Hz")

    seq = np.random.SeedSequence(seed)
    r_hyp, r_eeg, r_events, r_eog, r_emg, r_ecg, r_resp = (
        np.random.default_rng(s) for s in seq.spawn(7)
    )
    n_epochs = int(np.ceil(duration_s / epoch_s - 1e-9))
    hyp = make_hypnogram(n_epochs, r_hyp, epoch_s=epoch_s)
    stage_idx = np.array([STAGES.index(s) for s in hyp], dtype=np.int64)

    names = list(EEG_DERIVATIONS[:n_eeg])
    ev = parts.draw_eeg_events(r_events, hyp, epoch_s, duration_s)
    eeg, eog, emg = parts.synth_exg(
        names, stage_idx, epoch_s, duration_s, eeg_fs, emg_fs, r_eeg, r_emg
    )
    spindles, kcs = parts.add_eeg_events(eeg, names, eeg_fs, ev, r_events)
    eye = parts.add_eye_movements(eog, eeg, names, eeg_fs, hyp, epoch_s, duration_s, r_eog)
    parts.add_kc_to_eog(eog, eeg_fs, ev)
    parts.add_emg_events(emg, emg_fs, hyp, epoch_s, r_emg)

    ecg = parts.synth_ecg(stage_idx, epoch_s, duration_s, ecg_fs, r_ecg)
    resp, spo2, resp_events, desats = synth_resp_spo2(
        stage_idx, epoch_s, duration_s, resp_fs, spo2_fs, ahi_per_h, r_resp
    )

    channels = [SynthChannel(nm, "EEG", "uV", eeg_fs, x) for nm, x in zip(names, eeg, strict=True)]
    channels += [
        SynthChannel("E1-M2", "EOG", "uV", eeg_fs, eog[0]),
        SynthChannel("E2-M2", "EOG", "uV", eeg_fs, eog[1]),
        SynthChannel("Chin EMG", "EMG", "uV", emg_fs, emg),
        SynthChannel("ECG", "ECG", "mV", ecg_fs, ecg),
        SynthChannel("Airflow", "resp", "a.u.", resp_fs, resp[0]),
        SynthChannel("Thorax", "resp", "a.u.", resp_fs, resp[1]),
        SynthChannel("Abdomen", "resp", "a.u.", resp_fs, resp[2]),
        SynthChannel("SpO2", "SpO2", "%", spo2_fs, spo2),
    ]
    params: dict[str, object] = {
        "duration_s": duration_s, "n_eeg": n_eeg, "eeg_fs": eeg_fs, "emg_fs": emg_fs,
        "ecg_fs": ecg_fs, "resp_fs": resp_fs, "spo2_fs": spo2_fs, "uniform_fs": uniform_fs,
        "epoch_s": epoch_s, "ahi_per_h": ahi_per_h,
    }
    return SynthPSG(
        channels=channels, epoch_s=epoch_s, hypnogram=hyp, spindles=spindles, k_complexes=kcs,
        vertex_waves=ev.vertex_onsets, sawtooth_waves=ev.sawtooth, eye_movements=eye,
        respiratory_events=resp_events, desaturations=desats, seed=seed, params=params,
    )


__all__ = ["EEG_DERIVATIONS", "STAGES", "SynthChannel", "SynthPSG", "make_psg"]
