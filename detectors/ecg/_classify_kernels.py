"""Numba kernel of beat clustering, with its plain-Python reference.

``_cluster_py`` / ``_cluster_kernel``
    Leader clustering of beat waveforms by correlation against running-mean templates.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from detectors._numba import jit


def _cluster_py(
    waves: NDArray[np.float32], min_corr: float, max_clusters: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Reference: assign each beat to the first best-correlated template, or start a new one.

    Beats are taken in order. A beat joins the cluster whose running-mean template correlates
    best with it when that correlation is at least ``min_corr`` (or when ``max_clusters``
    clusters exist already); otherwise it starts a new cluster. The joined template becomes the
    mean of its members.

    Parameters
    ----------
    waves
        Shape ``(k, w)`` beat windows, each with its mean removed.
    min_corr
        Pearson correlation needed to join a cluster.
    max_clusters
        Most clusters made (>= 1).

    Returns
    -------
    labels
        Shape ``(k,)`` cluster index of each beat (clusters numbered in order of creation).
    corr
        Shape ``(k,)`` correlation of each beat with its cluster template when it joined
        (1.0 for the beat that started the cluster).
    """
    k = waves.shape[0]
    sums: list[NDArray[np.float64]] = []
    counts: list[int] = []
    labels = np.zeros(k, dtype=np.int64)
    corr = np.zeros(k, dtype=np.float64)
    for b in range(k):
        x = waves[b].astype(np.float64)
        best = -1
        best_c = -2.0
        for c in range(len(sums)):
            t = sums[c] / counts[c]
            t = t - t.mean()
            xc = x - x.mean()
            den = float(np.sqrt((t * t).sum() * (xc * xc).sum()))
            r = float((t * xc).sum()) / den if den > 0 else 0.0
            if r > best_c:
                best_c = r
                best = c
        if best >= 0 and (best_c >= min_corr or len(sums) >= max_clusters):
            sums[best] = sums[best] + x
            counts[best] += 1
            labels[b] = best
            corr[b] = best_c
        else:
            sums.append(x.copy())
            counts.append(1)
            labels[b] = len(sums) - 1
            corr[b] = 1.0
    return labels, corr


@jit
def _cluster_kernel(
    waves: NDArray[np.float32], min_corr: float, max_clusters: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    k = waves.shape[0]
    w = waves.shape[1]
    sums = np.zeros((max(max_clusters, 1), w), dtype=np.float64)
    temps = np.zeros((max(max_clusters, 1), w), dtype=np.float64)
    norms = np.zeros(max(max_clusters, 1), dtype=np.float64)
    counts = np.zeros(max(max_clusters, 1), dtype=np.int64)
    n_c = 0
    labels = np.zeros(k, dtype=np.int64)
    corr = np.zeros(k, dtype=np.float64)
    xc = np.zeros(w, dtype=np.float64)
    for b in range(k):
        mean = 0.0
        for j in range(w):
            mean += float(waves[b, j])
        mean /= max(w, 1)
        xn = 0.0
        for j in range(w):
            xc[j] = float(waves[b, j]) - mean
            xn += xc[j] * xc[j]
        best = -1
        best_c = -2.0
        for c in range(n_c):
            num = 0.0
            for j in range(w):
                num += temps[c, j] * xc[j]
            den = np.sqrt(norms[c] * xn)
            r = num / den if den > 0 else 0.0
            if r > best_c:
                best_c = r
                best = c
        if best >= 0 and (best_c >= min_corr or n_c >= max_clusters):
            target = best
            counts[target] += 1
            labels[b] = target
            corr[b] = best_c
        else:
            target = n_c
            n_c += 1
            counts[target] = 1
            labels[b] = target
            corr[b] = 1.0
        for j in range(w):
            sums[target, j] += float(waves[b, j])
        # refresh the centred template and its norm
        tm = 0.0
        for j in range(w):
            temps[target, j] = sums[target, j] / counts[target]
            tm += temps[target, j]
        tm /= max(w, 1)
        tn = 0.0
        for j in range(w):
            temps[target, j] -= tm
            tn += temps[target, j] * temps[target, j]
        norms[target] = tn
    return labels, corr
