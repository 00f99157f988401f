"""Sleep statistics from a scored hypnogram (pure; no I/O).

Conventions (AASM-style, stated here because published tools differ on the details):

* The input is one label per scoring epoch, in time order: ``W``, ``N1``, ``N2``, ``N3``,
  ``R``; anything else (``None``, ``"?"``) is an unscored or unscorable epoch.
* **Time in bed (TIB)**: from the start of the first scored epoch to the end of the last scored
  epoch (unscored epochs in between count towards TIB).
* **Total sleep time (TST)**: epochs scored N1, N2, N3 or R.
* **Sleep efficiency (SE)**: TST / TIB, in percent.
* **Sleep onset**: the first epoch scored N1, N2, N3 or R. **Sleep onset latency (SOL)**: from
  the start of the first scored epoch to sleep onset.
* **REM latency**: from sleep onset to the first epoch scored R.
* **Final awakening**: the end of the last sleep epoch. **WASO**: epochs scored W after sleep
  onset and before the final awakening; unscored epochs there are not counted as wake (they are
  reported as ``unscored_in_sleep_period_min``).
* **Awakenings**: runs of consecutive W epochs inside that sleep period.
* Stage minutes for every stage; stage percentages are of TST (sleep stages only).

Latencies are ``None`` when the event they measure to never happens (no sleep, no REM).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

SLEEP_STAGES = ("N1", "N2", "N3", "R")
STAGES = ("W", *SLEEP_STAGES)


@dataclass(frozen=True, slots=True)
class SleepStats:
    """Summary of one scored night; durations in minutes.

    Attributes
    ----------
    epoch_s
        Scoring epoch length (s).
    n_epochs_scored
        Epochs carrying a stage label.
    tib_min, tst_min
        Time in bed and total sleep time.
    sleep_efficiency_pct
        ``100 * tst_min / tib_min`` (``None`` when nothing was scored).
    sol_min
        Sleep onset latency (``None`` without sleep).
    rem_latency_min
        From sleep onset to the first R epoch (``None`` without REM).
    waso_min
        Wake after sleep onset, before the final awakening.
    n_awakenings
        Runs of W inside the sleep period.
    unscored_in_sleep_period_min
        Unscored epochs between sleep onset and the final awakening.
    stage_min
        Minutes per stage (``W``, ``N1``, ``N2``, ``N3``, ``R``).
    stage_pct_of_tst
        Percent of TST per sleep stage (``None`` when TST is 0).
    """

    epoch_s: float
    n_epochs_scored: int
    tib_min: float
    tst_min: float
    sleep_efficiency_pct: float | None
    sol_min: float | None
    rem_latency_min: float | None
    waso_min: float
    n_awakenings: int
    unscored_in_sleep_period_min: float
    stage_min: dict[str, float] = field(default_factory=dict)
    stage_pct_of_tst: dict[str, float | None] = field(default_factory=dict)


def compute_sleep_stats(stages: Sequence[str | None], epoch_s: float) -> SleepStats:
    """Compute sleep statistics of a hypnogram.

    Parameters
    ----------
    stages
        One label per epoch, in order (see the module docstring for the conventions).
    epoch_s
        Epoch length in seconds, ``> 0``.

    Returns
    -------
    SleepStats

    Raises
    ------
    ValueError
        ``epoch_s`` is not positive.
    """
    if not epoch_s > 0:
        raise ValueError(f"epoch length must be positive, got {epoch_s} s")
    epoch_min = epoch_s / 60.0
    scored = [i for i, s in enumerate(stages) if s in STAGES]
    counts = {s: sum(1 for x in stages if x == s) for s in STAGES}
    stage_min = {s: counts[s] * epoch_min for s in STAGES}
    if not scored:
        return SleepStats(
            epoch_s,
            0,
            0.0,
            0.0,
            None,
            None,
            None,
            0.0,
            0,
            0.0,
            stage_min,
            dict.fromkeys(SLEEP_STAGES),
        )
    first, last = scored[0], scored[-1]
    tib_min = (last - first + 1) * epoch_min
    n_sleep = sum(counts[s] for s in SLEEP_STAGES)
    tst_min = n_sleep * epoch_min
    sleep_idx = [i for i, s in enumerate(stages) if s in SLEEP_STAGES]
    if not sleep_idx:
        return SleepStats(
            epoch_s,
            len(scored),
            tib_min,
            0.0,
            0.0,
            None,
            None,
            0.0,
            0,
            0.0,
            stage_min,
            dict.fromkeys(SLEEP_STAGES),
        )
    onset, final = sleep_idx[0], sleep_idx[-1]
    rem = next((i for i in range(onset, len(stages)) if stages[i] == "R"), None)
    period = stages[onset : final + 1]
    waso_epochs = sum(1 for s in period if s == "W")
    unscored = sum(1 for s in period if s not in STAGES)
    awakenings = sum(
        1 for k, s in enumerate(period) if s == "W" and (k == 0 or period[k - 1] != "W")
    )
    return SleepStats(
        epoch_s=epoch_s,
        n_epochs_scored=len(scored),
        tib_min=tib_min,
        tst_min=tst_min,
        sleep_efficiency_pct=100.0 * tst_min / tib_min,
        sol_min=(onset - first) * epoch_min,
        rem_latency_min=None if rem is None else (rem - onset) * epoch_min,
        waso_min=waso_epochs * epoch_min,
        n_awakenings=awakenings,
        unscored_in_sleep_period_min=unscored * epoch_min,
        stage_min=stage_min,
        stage_pct_of_tst={s: 100.0 * counts[s] / n_sleep for s in SLEEP_STAGES},
    )


def hypnogram_from_epochs(epochs: dict[int, str], n_epochs: int | None = None) -> list[str | None]:
    """Turn ``{epoch_index: stage}`` into a list (``None`` where nothing was scored)."""
    if not epochs:
        return []
    n = max(epochs) + 1 if n_epochs is None else max(n_epochs, max(epochs) + 1)
    out: list[str | None] = [None] * n
    for i, s in epochs.items():
        if i >= 0:
            out[i] = s
    return out


__all__ = ["SLEEP_STAGES", "STAGES", "SleepStats", "compute_sleep_stats", "hypnogram_from_epochs"]
