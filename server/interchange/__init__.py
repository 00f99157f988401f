"""Import and export of annotation events: WFDB, EDF+, hypnograms, CSV, BIDS TSV, Parquet.

Pure functions over :class:`store.EventDraft` / :class:`store.Event` values: importers read a
file and return an :class:`ImportResult` (all events, sorted by onset, or a typed
:class:`store.errors.ImportFormatError`); exporters write a file atomically from events and an
:class:`ExportContext` (or raise :class:`store.errors.ExportFormatError`). The event store
calls them; nothing here touches the database. Formats and conventions:
``docs/import-export.md``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.interchange._common import EventLike, ExportContext, ImportResult
from server.interchange.csv_tsv import (
    CSV_COLUMNS,
    TSV_COLUMNS,
    export_bids_tsv,
    export_csv,
    import_bids_tsv,
    import_csv,
    sidecar_path,
)
from server.interchange.edf_ann import export_edf_annotations, import_edf_annotations
from server.interchange.hypnogram import export_hypnogram, import_hypnogram
from server.interchange.parquet import export_parquet, import_parquet, read_events_parquet
from server.interchange.wfdb_ann import export_wfdb, import_wfdb


@dataclass(frozen=True, slots=True)
class Format:
    """One interchange format: its importer, exporter and usual file suffix."""

    name: str
    suffix: str
    importer: Callable[..., ImportResult]
    exporter: Callable[[Sequence[EventLike], str | Path, ExportContext], None]
    description: str


FORMATS: dict[str, Format] = {
    f.name: f for f in (
        Format("wfdb", ".atr", import_wfdb, export_wfdb, "WFDB (MIT) annotation file"),
        Format("edf+", ".edf", import_edf_annotations, export_edf_annotations,
               "annotations-only EDF+ file"),
        Format("hypnogram", ".txt", import_hypnogram, export_hypnogram,
               "one sleep stage per epoch line"),
        Format("csv", ".csv", import_csv, export_csv, "CSV with every event field"),
        Format("bids-tsv", "_events.tsv", import_bids_tsv, export_bids_tsv,
               "BIDS events.tsv with a JSON sidecar"),
        Format("parquet", ".parquet", import_parquet, export_parquet,
               "Parquet with every stored field"),
    )
}


def describe_formats() -> list[dict[str, Any]]:
    """Name, suffix and description of every format (for the API and the CLI)."""
    return [{"name": f.name, "suffix": f.suffix, "description": f.description}
            for f in FORMATS.values()]


__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "TSV_COLUMNS",
    "EventLike",
    "ExportContext",
    "Format",
    "ImportResult",
    "describe_formats",
    "export_bids_tsv",
    "export_csv",
    "export_edf_annotations",
    "export_hypnogram",
    "export_parquet",
    "export_wfdb",
    "import_bids_tsv",
    "import_csv",
    "import_edf_annotations",
    "import_hypnogram",
    "import_parquet",
    "import_wfdb",
    "read_events_parquet",
    "sidecar_path",
]
