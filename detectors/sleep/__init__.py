"""Sleep detectors: 30-s staging with per-stage probabilities (``sleep.staging``)."""

from __future__ import annotations

from detectors._types import DetectorSpec
from detectors.sleep.channels import ChannelPickError, pick_eeg, pick_emg, pick_eog
from detectors.sleep.staging import (
    STAGES,
    StagingInputError,
    StagingModelError,
    StagingParams,
    hmm_smooth,
    run_staging,
    stage_arrays,
)

STAGING = DetectorSpec(
    name="sleep.staging",
    version="1.0.1",
    description="W/N1/N2/N3/R per 30-s epoch from EEG (+EOG, chin EMG); YASA-trained LightGBM",
    params_type=StagingParams,
    run=run_staging,
    needs=("EEG", "EOG", "EMG"),
)

DETECTORS = [STAGING]

__all__ = [
    "DETECTORS",
    "STAGES",
    "STAGING",
    "ChannelPickError",
    "StagingInputError",
    "StagingModelError",
    "StagingParams",
    "hmm_smooth",
    "pick_eeg",
    "pick_emg",
    "pick_eog",
    "run_staging",
    "stage_arrays",
]
