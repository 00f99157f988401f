"""A plausible adult hypnogram: sleep-onset latency, NREM/REM cycles, brief awakenings."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: AASM stage labels used everywhere in the synthetic PSG.
STAGES: tuple[str, ...] = ("W", "N1", "N2", "N3", "R")


def make_hypnogram(
    n_epochs: int, rng: np.random.Generator, *, epoch_s: float = 30.0
) -> NDArray[np.str_]:
    """Draw a hypnogram of ``n_epochs`` epochs.

    Structure: wake for a sleep-onset latency of 8-25 min, a few minutes of N1, then NREM/REM
    cycles of ~85-105 min. N3 is long in the first cycle (~30 min) and fades by the fourth;
    REM grows from ~8 min in the first cycle to 25-40 min late in the night. Most cycles end
    with a brief awakening; isolated N2->N1, N3->N2 and REM->W epochs add the fragmentation of
    real nights, and the night ends with a few minutes of wake when it is longer than 6 h.

    Parameters
    ----------
    n_epochs
        Number of epochs (>= 1).
    rng
        Random generator.
    epoch_s
        Epoch length in seconds.

    Returns
    -------
    ndarray of str
        (n_epochs,) stages from :data:`STAGES`.
    """
    if n_epochs < 1:
        raise ValueError(f"n_epochs must be >= 1, got {n_epochs}")
    per_min = 60.0 / epoch_s
    seq: list[str] = []

    def add(stage: str, minutes: float) -> None:
        seq.extend([stage] * max(1, round(minutes * per_min)))

    add("W", rng.uniform(8.0, 25.0))
    add("N1", rng.uniform(2.0, 6.0))
    cycle = 0
    while len(seq) < n_epochs:
        n3_min = max(0.0, rng.normal(30.0 - 11.0 * cycle, 4.0))
        rem_min = float(np.clip(rng.normal(8.0 + 8.0 * cycle, 3.0), 4.0, 45.0))
        n1_min = rng.uniform(1.0, 4.0) if cycle > 0 else 0.0
        n2_min = max(15.0, rng.uniform(85.0, 105.0) - n3_min - rem_min - n1_min)
        if n1_min > 0:
            add("N1", n1_min)
        first = 0.55 if n3_min >= 1.0 else 0.5
        add("N2", n2_min * first)
        if n3_min >= 1.0:
            add("N3", n3_min)
        add("N2", n2_min * (1.0 - first))
        add("R", rem_min)
        if rng.random() < 0.6:
            add("W", rng.uniform(0.5, 3.0))
        cycle += 1
    stages = np.array(seq[:n_epochs], dtype="<U2")
    onset = int(np.argmax(stages != "W"))
    for i in range(onset + 1, n_epochs - 1):
        u = rng.random()
        if stages[i] == "N3" and u < 0.10:
            stages[i] = "N2"
        elif stages[i] == "N2" and stages[i - 1] == "N2":
            if u < 0.02:
                stages[i] = "N1"
            elif u < 0.03:
                stages[i] = "W"
                if stages[i + 1] == "N2":
                    stages[i + 1] = "N1"
        elif stages[i] == "R" and stages[i - 1] == "R" and u < 0.02:
            stages[i] = "W" if u < 0.01 else "N1"
    if n_epochs * epoch_s > 6 * 3600:
        tail = round(rng.uniform(3.0, 10.0) * per_min)
        stages[-tail:] = "W"
    return stages


__all__ = ["STAGES", "make_hypnogram"]
