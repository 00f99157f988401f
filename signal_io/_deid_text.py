"""Rules that find identifiers in free text and replace them with placeholders.

Each rule has a stable name (reported in ``deid_report.json``) and a placeholder. The rules aim
at identifiers (names after titles, dates, date-times, ID-like numbers, phone numbers, e-mail
addresses, ages over 89) while leaving clinical labels alone: beat symbols, rhythm labels such
as ``(AFIB``, ``Sleep stage N2``, ``Lights off``, clock times without a date, and short numbers
such as ``SpO2 85``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_TIME = r"(?:[T\s,]+\d{1,2}[:h.]\d{2}(?:[:.]\d{2}(?:\.\d+)?)?(?:\s*[ap]\.?m\.?)?)?"
_DAY_SUFFIX = r"(?:st|nd|rd|th)?"

#: Words that may follow a title but are never names (PSG event vocabulary).
_NOT_NAMES = frozenset(
    """event events awake asleep position supine prone left right up down talking movement
    movements snoring bathroom calibration calibrations lights light restless wake sleep stage
    called care note comment comments request requested unknown off on in out call button
    pressed alarm disconnected connected reconnected bed chair sitting standing""".split()  # noqa: SIM905
)

_TITLES = (
    r"(?:dr|doctor|mr|mrs|ms|miss|mx|prof|professor|patient|pt|name|nurse|rn|tech|technician|"
    r"technologist|scorer|physician|md|(?:scored|reviewed|signed|read|reported|edited|"
    r"recorded|interpreted|referred|checked)\s+by)"
)
_NAME_TOKEN = r"(?:[A-Z][A-Za-z'\-]+|[A-Z]\.)"


@dataclass(frozen=True, slots=True)
class TextRule:
    """One scrubbing rule.

    Attributes
    ----------
    name
        Stable rule name, used in reports (``"date"``, ``"name"``...).
    pattern
        Compiled pattern; every match is replaced.
    replace
        Function from the match to its replacement text.
    """

    name: str
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]


def _const(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _m: text


def _keep_prefix(placeholder: str) -> Callable[[re.Match[str]], str]:
    return lambda m: f"{m.group('prefix')}{placeholder}"


def _name_replacement(m: re.Match[str]) -> str:
    tokens = m.group("names").split()
    if tokens[0].rstrip(".").lower() in _NOT_NAMES:
        return m.group(0)
    return f"{m.group('prefix')}[NAME]"


def _age_replacement(m: re.Match[str]) -> str:
    """``90+`` for ages over 89 (HIPAA safe harbour), the match unchanged otherwise."""
    if m.group("age") is not None:
        age = int(m.group("age"))
        already_generalised = age == 90 and m.string[m.end():m.end() + 1] == "+"
        if age <= 89 or already_generalised:
            return m.group(0)
        return f"{m.group('before')}90+{m.group('after')}"
    age = int(m.group("age2"))
    return m.group(0) if age <= 89 else f"90+{m.group('after2')}"


_I = re.IGNORECASE

#: The rules in the order they are applied.
RULES: tuple[TextRule, ...] = (
    TextRule("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"), _const("[EMAIL]")),
    TextRule("url", re.compile(r"\b(?:https?://|www\.)\S+", _I), _const("[URL]")),
    TextRule(
        "date",
        re.compile(
            r"\b(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
            r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2}(?:\d{2})?"
            rf"|\d{{1,2}}{_DAY_SUFFIX}[\s\-/.]*(?:of\s+)?{_MONTH}\.?[\s\-/.,]*\d{{2}}(?:\d{{2}})?"
            rf"|{_MONTH}\.?[\s\-/]*\d{{1,2}}{_DAY_SUFFIX},?[\s\-/]+\d{{4}}"
            rf"|{_MONTH}\.?,?[\s\-/]+(?:19|20)\d{{2}}"
            rf")(?!\d){_TIME}",
            _I,
        ),
        _const("[DATE]"),
    ),
    TextRule(
        "birth_year",
        re.compile(
            r"(?P<prefix>\b(?:born|b\.|dob|d\.o\.b\.|birth(?:\s*date|day)?|year\s+of\s+birth)"
            r"\s*[:=]?\s*(?:in\s+)?)(?:19|20)\d{2}\b",
            _I,
        ),
        _keep_prefix("[DATE]"),
    ),
    TextRule("ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), _const("[ID]")),
    TextRule(
        "phone",
        re.compile(r"(?:\+\d{1,3}[\s.\-]?)?\(?\b\d{2,4}\)?[\s.\-]\d{3,4}[\s.\-]\d{3,4}\b"),
        _const("[PHONE]"),
    ),
    TextRule(
        "labelled_id",
        re.compile(
            r"(?P<prefix>\b(?:mrn|id|ssn|nhs|medical\s+record|record\s+(?:no|number)|chart|"
            r"accession|acc|case|patient\s+(?:id|number|no))\b\.?\s*(?:no\.?|number|#)?\s*"
            r"[:#=]?\s*)[A-Za-z]{0,3}[\-]?\d[\w\-/]{2,}",
            _I,
        ),
        _keep_prefix("[ID]"),
    ),
    TextRule(
        "id_number",
        re.compile(r"(?<![\d.,])\b[A-Za-z]{0,4}\d{5,}\b(?![.,]\d)"),
        _const("[ID]"),
    ),
    TextRule(
        "age_over_89",
        re.compile(
            r"(?P<before>\b(?:age[d:]?\s*|aged\s+))(?P<age>\d{2,3})(?P<after>\b)"
            r"|(?P<before2>\b)(?P<age2>\d{2,3})(?P<after2>\s*[- ]?(?:years?|yrs?|y/?o|yo)\b)",
            _I,
        ),
        _age_replacement,
    ),
    TextRule(
        "name",
        re.compile(
            rf"(?P<prefix>\b(?i:{_TITLES})\b\.?:?\s+)"
            rf"(?P<names>{_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{0,2}})"
        ),
        _name_replacement,
    ),
)


def known_identifier_rule(words: Iterable[str]) -> TextRule | None:
    """Build a rule replacing specific words known to identify the patient.

    Parameters
    ----------
    words
        Words taken from identifying header fields (names, codes); words shorter than 3
        characters are ignored.

    Returns
    -------
    TextRule or None
        ``None`` when no usable word is given.
    """
    usable = sorted({w for w in words if len(w) >= 3}, key=len, reverse=True)
    if not usable:
        return None
    pattern = re.compile(
        r"(?<![\w])(?:" + "|".join(re.escape(w) for w in usable) + r")(?![\w])", _I
    )
    return TextRule("known_identifier", pattern, _const("[ID]"))


def scrub_text(text: str, extra_rules: Iterable[TextRule] = ()) -> tuple[str, list[str]]:
    """Replace identifiers in ``text`` with placeholders.

    Parameters
    ----------
    text
        Free text (an annotation label, a header comment).
    extra_rules
        Rules applied first (e.g. :func:`known_identifier_rule`).

    Returns
    -------
    scrubbed : str
        The text with identifiers replaced by ``[NAME]``, ``[DATE]``, ``[ID]``, ``[PHONE]``,
        ``[EMAIL]``, ``[URL]``, or ages over 89 by ``90+``.
    rules : list of str
        Names of the rules that changed something, in application order (empty when the text
        was left unchanged).
    """
    hits: list[str] = []
    for rule in (*extra_rules, *RULES):
        new = rule.pattern.sub(rule.replace, text)
        if new != text:
            hits.append(rule.name)
            text = new
    return text, hits
