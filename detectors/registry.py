"""Registry of detectors by name, used by the CLI and the API."""

from __future__ import annotations

import importlib

from detectors._types import DetectorSpec

_MODULES = ("detectors.ecg", "detectors.sleep", "detectors.spindles", "detectors.seizure")


class UnknownDetectorError(LookupError):
    """No detector of that name is registered."""


def _collect() -> dict[str, DetectorSpec]:
    specs: dict[str, DetectorSpec] = {}
    for mod_name in _MODULES:
        try:
            module = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                continue
            raise
        for spec in getattr(module, "DETECTORS", ()):
            specs[spec.name] = spec
    return specs


def list_detectors() -> list[DetectorSpec]:
    """Return every registered detector sorted by name."""
    return sorted(_collect().values(), key=lambda s: s.name)


def get_detector(name: str) -> DetectorSpec:
    """Return the detector called ``name``.

    Raises
    ------
    UnknownDetectorError
        With the list of known names.
    """
    specs = _collect()
    if name not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise UnknownDetectorError(f"unknown detector {name!r}; known detectors: {known}")
    return specs[name]
