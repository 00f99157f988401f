"""De-identification of a recording's header, start time and annotations (pure functions).

What is done (``docs/ingest-and-deid.md`` gives the rules and their limits):

- The start date is shifted back by a whole number of days (1000-4000) derived from the
  installation's secret; the time of day is kept, so clock times such as lights-off survive.
- EDF patient and recording identification fields are replaced by EDF+ anonymous fields
  (``"X X X X"``; the sex subfield of an EDF+ patient field is kept).
- Header comments (WFDB ``#`` lines) are kept only when free of identifiers: ages over 89 become
  ``"90+"``, lines naming dates, identifiers or other identifying keys are dropped.
- Annotation texts and channel labels are scrubbed by the rules of
  :mod:`signal_io._deid_text` plus the words of the original identifying fields.

The report (:attr:`DeidResult.report`, saved as ``deid_report.json``) says which fields,
comment lines and annotation indices were changed and by which rule, never the original values.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from signal_io._deid_text import RULES, TextRule, known_identifier_rule, scrub_text
from signal_io._recording import Annotation, ChannelInfo, HeaderFields

#: Schema of the report written to ``deid_report.json``.
REPORT_SCHEMA = "wavescore.deid/1"
#: Anonymous EDF+ patient field (code, sex, birthdate, name).
ANONYMOUS_PATIENT = "X X X X"
#: Anonymous EDF+ recording field (start date, admin code, technician, equipment).
ANONYMOUS_RECORDING = "Startdate X X X X"
#: Range of the date shift in days (the shift goes back in time).
SHIFT_DAYS_MIN, SHIFT_DAYS_MAX = 1000, 4000

__all__ = [
    "ANONYMOUS_PATIENT",
    "ANONYMOUS_RECORDING",
    "RULES",
    "DeidResult",
    "date_shift_days",
    "deidentify",
    "deidentify_annotations",
    "deidentify_comments",
    "deidentify_header",
    "pseudonym",
    "scrub_text",
    "shift_start_time",
]


def date_shift_days(secret: bytes) -> int:
    """Return the installation's date shift in days, in ``[-4000, -1000]``.

    The shift is derived from ``secret`` with HMAC-SHA256, so it is stable for an installation
    and unknown without the secret. It is never written to any report.
    """
    digest = hmac.new(secret, b"wavescore.date-shift/1", hashlib.sha256).digest()
    span = SHIFT_DAYS_MAX - SHIFT_DAYS_MIN + 1
    return -(SHIFT_DAYS_MIN + int.from_bytes(digest[:8], "big") % span)


def pseudonym(secret: bytes, content_sha256: str) -> str:
    """Return the recording id for source content: ``"r"`` + 12 hex digits of an HMAC.

    Parameters
    ----------
    secret
        The installation's secret (``secret.key``).
    content_sha256
        Hex sha256 of the recording's source content.
    """
    mac = hmac.new(secret, content_sha256.encode("ascii"), hashlib.sha256).hexdigest()
    return "r" + mac[:12]


def shift_start_time(start: datetime | None, shift_days: int) -> datetime | None:
    """Shift ``start`` by ``shift_days`` whole days, keeping the time of day (``None`` stays)."""
    return None if start is None else start + timedelta(days=shift_days)


# ---------------------------------------------------------------------------------------------
# Header fields


_EDFPLUS_PATIENT = re.compile(r"^\s*(\S+)\s+([MFX])\s+(\S+)\s+(\S+)(?:\s+(.*))?$")
_EDFPLUS_RECORDING = re.compile(r"^\s*Startdate\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$")
_ANON_TOKEN = re.compile(r"^(X|x|[MF]|Startdate|\d{1,2}-[A-Za-z]{3}-\d{4})$")
#: Words of identifying fields that are placeholders or clinical vocabulary, never identifiers.
_NOT_IDENTIFYING = frozenset(
    """name noname no_name unknown anonymous anon patient subject control healthy male female
    sleep stage wake rem nrem eeg ecg ekg emg eog psg study night test lights seizure arousal
    apnea apnoea hypopnea recording record session montage channel signal left right""".split()  # noqa: SIM905
)


def _identifying_words(header: HeaderFields) -> list[str]:
    """Words of the identifying fields that may reappear in annotations (names, codes).

    From an EDF+ patient field: the code and name subfields (and any extra text); from an EDF+
    recording field: the admin code and technician (not the equipment); from free-text fields:
    every capitalised word, and codes with 4 or more digits. Placeholders and clinical words are
    never used.
    """
    texts: list[str] = []
    m = _EDFPLUS_PATIENT.match(header.patient)
    texts += [m.group(1), m.group(4), m.group(5) or ""] if m else [header.patient]
    r = _EDFPLUS_RECORDING.match(header.recording)
    texts += [r.group(2), r.group(3), r.group(5) or ""] if r else [header.recording]
    words: list[str] = []
    for text in texts:
        for token in re.split(r"[\s,;]+", text):
            for part in [token, *token.split("_")]:
                part = part.strip(".:()[]'\"")
                if len(part) < 3 or _ANON_TOKEN.match(part):
                    continue
                if part.lower() in _NOT_IDENTIFYING:
                    continue
                if part.isalpha() and not part[0].isupper():
                    continue  # lower-case words are descriptive, not names
                if not part.isalpha() and sum(c.isdigit() for c in part) < 4:
                    continue  # short numbers and units ("3Hz") are not identifying codes
                words.append(part)
    return words


def deidentify_header(header: HeaderFields) -> tuple[str, str, list[dict[str, Any]]]:
    """Replace the EDF patient and recording identification fields.

    Returns
    -------
    patient : str
        ``"X X X X"``, or ``"X M X X"`` / ``"X F X X"`` when an EDF+ patient field gave the sex.
    recording : str
        ``"Startdate X X X X"`` when a recording field was present, else ``""``.
    report : list of dict
        One entry per field: ``{"field", "action"}`` with action ``"replaced"``, ``"absent"``
        or ``"already_anonymous"``.
    """
    report: list[dict[str, Any]] = []
    sex = "X"
    m = _EDFPLUS_PATIENT.match(header.patient)
    if m is not None:
        sex = m.group(2)
    patient = f"X {sex} X X"
    if not header.patient.strip():
        report.append({"field": "patient", "action": "absent"})
    elif header.patient.strip() in (ANONYMOUS_PATIENT, patient):
        report.append({"field": "patient", "action": "already_anonymous"})
    else:
        report.append({"field": "patient", "action": "replaced", "kept": ["sex"] if sex != "X"
                       else []})
    recording = ANONYMOUS_RECORDING if header.recording.strip() else ""
    if not header.recording.strip():
        report.append({"field": "recording", "action": "absent"})
    elif header.recording.strip() == ANONYMOUS_RECORDING:
        report.append({"field": "recording", "action": "already_anonymous"})
    else:
        report.append({"field": "recording", "action": "replaced"})
    return patient, recording, report


# ---------------------------------------------------------------------------------------------
# Header comments


#: Comment keys whose value identifies (dates, names, places, numbers): such lines are dropped.
_IDENTIFYING_KEY = re.compile(
    r"date|time|born|birth|dob|name|\bid\b|mrn|number of patient|record|address|phone|mail|"
    r"hospital|clinic|physician|doctor|referr|institution|location|city|zip|postcode|"
    r"insurance|ssn|identifier|signature|operator|technician",
    re.IGNORECASE,
)
_KEY_VALUE = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z ()/_\-.]{0,60}?)\s*[:=]\s*(?P<value>.*)$")
_AGE_KEY = re.compile(r"^\s*age\s*(?:\(.*\))?\s*$", re.IGNORECASE)
_SEX_VALUE = re.compile(r"^\s*(m|f|male|female|u|unknown|other|\?)\s*$", re.IGNORECASE)
#: ``<age> <sex> ...`` lines, as in the MIT-BIH headers (``# 69 M 1085 1629 x1``).
_AGE_SEX_LINE = re.compile(r"^\s*(?P<age>\d{1,3}|\?)\s+(?P<sex>[MF?])\b(?P<rest>.*)$")


def _generalise_age(text: str) -> str:
    text = text.strip()
    if text.isdigit() and int(text) > 89:
        return "90+"
    return text


def _comment(line: str, extra: Sequence[TextRule]) -> tuple[str | None, str, list[str]]:
    """Return (kept line or None, action, rules) for one comment line."""
    m = _AGE_SEX_LINE.match(line)
    if m is not None:
        age = _generalise_age(m.group("age"))
        kept = f"{age} {m.group('sex')}"
        rules = ["age_over_89"] if age != m.group("age") else []
        if m.group("rest").strip():
            rules.append("unlabelled_fields_dropped")
        return kept, ("generalised" if rules else "kept"), rules
    kv = _KEY_VALUE.match(line)
    if kv is not None:
        key, value = kv.group("key").strip(), kv.group("value")
        if _AGE_KEY.match(key):
            age = _generalise_age(value)
            if not re.fullmatch(r"\d{1,3}|90\+|\?|n/?a|unknown", age, re.IGNORECASE):
                return None, "dropped", ["age_unparsed"]
            return f"{key}: {age}", ("generalised" if age != value.strip() else "kept"), (
                ["age_over_89"] if age != value.strip() else [])
        if _IDENTIFYING_KEY.search(key):
            return None, "dropped", ["identifying_key"]
        if re.fullmatch(r"sex|gender", key, re.IGNORECASE) and _SEX_VALUE.match(value):
            return line.strip(), "kept", []
    scrubbed, rules = scrub_text(line, extra)
    if rules:
        return None, "dropped", rules
    return scrubbed.strip(), "kept", []


def deidentify_comments(
    comments: Sequence[str], extra_rules: Sequence[TextRule] = ()
) -> tuple[list[str], dict[str, Any]]:
    """Keep the header comment lines that are free of identifiers, generalising ages.

    Parameters
    ----------
    comments
        Comment lines (WFDB ``#`` lines without the ``#``).
    extra_rules
        Extra text rules (the words of the identifying header fields).

    Returns
    -------
    kept : list of str
        The surviving lines, generalised where needed, in order.
    report : dict
        ``{"total", "kept", "generalised": [{"index", "rules"}], "dropped": [{"index",
        "rules"}]}`` with indices into ``comments``.
    """
    kept: list[str] = []
    generalised: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for i, line in enumerate(comments):
        if not line.strip():
            continue
        out, action, rules = _comment(line, extra_rules)
        if action == "dropped" or out is None:
            dropped.append({"index": i, "rules": rules})
            continue
        if action == "generalised":
            generalised.append({"index": i, "rules": rules})
        kept.append(out)
    report = {"total": len(comments), "kept": len(kept), "generalised": generalised,
              "dropped": dropped}
    return kept, report


# ---------------------------------------------------------------------------------------------
# Annotations and channel labels


def deidentify_annotations(
    annotations: Sequence[Annotation], extra_rules: Sequence[TextRule] = ()
) -> tuple[list[Annotation], dict[str, Any]]:
    """Scrub identifiers from annotation labels; onsets, durations and kinds are unchanged.

    Returns
    -------
    annotations : list of Annotation
        Same length and order as the input.
    report : dict
        ``{"total", "scrubbed", "by_rule": {rule: count}, "items": [{"index", "rules"}]}``.
    """
    out: list[Annotation] = []
    items: list[dict[str, Any]] = []
    by_rule: Counter[str] = Counter()
    cache: dict[str, tuple[str, list[str]]] = {}
    for i, ann in enumerate(annotations):
        hit = cache.get(ann.label)
        if hit is None:
            hit = scrub_text(ann.label, extra_rules)
            cache[ann.label] = hit
        label, rules = hit
        if rules:
            items.append({"index": i, "rules": rules})
            by_rule.update(rules)
            ann = replace(ann, label=label)
        out.append(ann)
    report = {"total": len(annotations), "scrubbed": len(items), "by_rule": dict(by_rule),
              "items": items}
    return out, report


def _deidentify_channels(
    channels: Sequence[ChannelInfo], extra_rules: Sequence[TextRule]
) -> tuple[list[ChannelInfo], list[dict[str, Any]]]:
    out: list[ChannelInfo] = []
    report: list[dict[str, Any]] = []
    for ch in channels:
        name, rules = scrub_text(ch.name, extra_rules)
        unit, unit_rules = scrub_text(ch.unit, extra_rules)
        if rules or unit_rules:
            report.append({"index": ch.index, "rules": rules + unit_rules})
            ch = replace(ch, name=name, unit=unit)
        out.append(ch)
    return out, report


@dataclass(frozen=True, slots=True)
class DeidResult:
    """A recording's de-identified descriptive content.

    Attributes
    ----------
    start_time
        Shifted start (time of day kept), or ``None``.
    patient, recording
        Anonymous EDF+ identification fields.
    comments
        Surviving header comments.
    channels
        Channels with scrubbed labels and units (indices, rates and lengths unchanged).
    annotations
        Annotations with scrubbed labels.
    report
        What was changed, for ``deid_report.json`` (never original values).
    """

    start_time: datetime | None
    patient: str
    recording: str
    comments: list[str]
    channels: list[ChannelInfo]
    annotations: list[Annotation]
    report: dict[str, Any]


def deidentify(
    *,
    header: HeaderFields,
    start_time: datetime | None,
    channels: Sequence[ChannelInfo],
    annotations: Sequence[Annotation],
    shift_days: int,
) -> DeidResult:
    """De-identify everything descriptive about a recording (its samples are not touched).

    Parameters
    ----------
    header
        Raw identifying header content from the reader.
    start_time
        Raw start time, or ``None``.
    channels
        The reader's channels.
    annotations
        The recording's own annotations.
    shift_days
        Whole-day shift of the start date (:func:`date_shift_days`).

    Returns
    -------
    DeidResult
    """
    known = known_identifier_rule(_identifying_words(header))
    extra = [known] if known is not None else []
    patient, recording, field_report = deidentify_header(header)
    comments, comment_report = deidentify_comments(header.comments, extra)
    chans, channel_report = _deidentify_channels(channels, extra)
    anns, ann_report = deidentify_annotations(annotations, extra)
    renamed = {old.name: new.name for old, new in zip(channels, chans, strict=True)}
    anns = [a if a.channel is None else replace(
        a, channel=renamed.get(a.channel) or scrub_text(a.channel, extra)[0]) for a in anns]
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "start_time": {
            "action": "absent" if start_time is None else "date_shifted",
            "note": "shifted by a per-installation whole number of days; time of day kept",
        },
        "header_fields": field_report,
        "comments": comment_report,
        "channels": {"scrubbed": channel_report},
        "annotations": ann_report,
        "rules": [r.name for r in (*extra, *RULES)],
    }
    return DeidResult(
        start_time=shift_start_time(start_time, shift_days),
        patient=patient,
        recording=recording,
        comments=comments,
        channels=chans,
        annotations=anns,
        report=report,
    )
