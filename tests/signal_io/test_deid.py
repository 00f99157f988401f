"""De-identification: date shift, pseudonyms, header fields, comments, annotation texts.

End-to-end checks plant identifiers in EDF headers, WFDB comments and annotation texts, ingest,
and grep every stored byte for the originals.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import wfdb
from hypothesis import given, settings
from hypothesis import strategies as st

from signal_io import Annotation, ChannelInfo, ChannelKind, HeaderFields, open_recording
from signal_io.deid import (
    SHIFT_DAYS_MAX,
    SHIFT_DAYS_MIN,
    date_shift_days,
    deidentify,
    deidentify_annotations,
    deidentify_comments,
    deidentify_header,
    pseudonym,
    scrub_text,
    shift_start_time,
)
from signal_io.edf_writer import EdfSignal, write_edf
from signal_io.ingest import content_sha256, hash_files, ingest_recording

SECRET = bytes(range(32))


def test_date_shift_is_stable_within_range_and_depends_on_secret() -> None:
    shifts = {date_shift_days(bytes([i]) * 32) for i in range(50)}
    assert all(-SHIFT_DAYS_MAX <= s <= -SHIFT_DAYS_MIN for s in shifts)
    assert len(shifts) > 40
    assert date_shift_days(SECRET) == date_shift_days(bytes(SECRET))


def test_shift_keeps_time_of_day_and_moves_whole_days() -> None:
    start = datetime(2021, 3, 14, 22, 47, 13, 250000)
    shifted = shift_start_time(start, -1234)
    assert shifted is not None
    assert shifted.time() == start.time()
    assert (start - shifted).days == 1234
    assert shift_start_time(None, -1234) is None


def test_pseudonym_is_stable_hex_and_secret_dependent() -> None:
    sha = "ab" * 32
    rid = pseudonym(SECRET, sha)
    assert rid == pseudonym(SECRET, sha)
    assert len(rid) == 13 and rid[0] == "r" and int(rid[1:], 16) >= 0
    assert pseudonym(b"other" * 7, sha) != rid
    assert pseudonym(SECRET, "cd" * 32) != rid


@pytest.mark.parametrize(
    "label",
    ["N", "V", "/", "~", "+", "|", "AFIB", "(AFIB", "(VT", "Sleep stage N2", "Sleep stage W",
     "Sleep stage R", "Sleep stage ?", "Seizure", "Lights off", "Lights on 06:45", "SpO2 85",
     "SpO2 min 78 at 03:12", "Desaturation -4%", "Obstructive Apnea", "Hypopnea 12.5 s",
     "Limb Movement (Left)", "Patient Event", "EEG arousal", "R&K stage 4", "Spindle 12.5 Hz",
     "HR 72 bpm", "Position: Supine", "Montage:Bipolar", "age 45", "Stage 2 1.5s"],
)
def test_clinical_labels_are_left_intact(label: str) -> None:
    assert scrub_text(label) == (label, [])


@pytest.mark.parametrize(
    ("text", "secret", "rule", "placeholder"),
    [
        ("Recording started 2019-03-02 22:30:00", "2019-03-02", "date", "[DATE]"),
        ("seen 03/02/2019", "03/02/2019", "date", "[DATE]"),
        ("visit 14.07.98 ok", "14.07.98", "date", "[DATE]"),
        ("02-MAR-2019", "MAR-2019", "date", "[DATE]"),
        ("on March 2, 2019", "March 2", "date", "[DATE]"),
        ("on 2nd of March 2019", "March 2019", "date", "[DATE]"),
        ("2019-03-02T22:30:15 arousal", "22:30:15", "date", "[DATE]"),
        ("Dr. Gregory House reviewed", "House", "name", "[NAME]"),
        ("patient Jane Roe awake", "Jane", "name", "[NAME]"),
        ("scored by MILLER", "MILLER", "name", "[NAME]"),
        ("Name: Max Mustermann", "Mustermann", "name", "[NAME]"),
        ("MRN 00123456", "00123456", "labelled_id", "[ID]"),
        ("MRN: AB-1234", "AB-1234", "labelled_id", "[ID]"),
        ("chart #A99-12", "A99-12", "labelled_id", "[ID]"),
        ("ssn 123-45-6789", "123-45-6789", "ssn", "[ID]"),
        ("ref 8812345 noted", "8812345", "id_number", "[ID]"),
        ("call 555-123-4567", "555-123-4567", "phone", "[PHONE]"),
        ("+44 20 7946 0958", "7946", "phone", "[PHONE]"),
        ("mail j.doe@example.org", "j.doe@example.org", "email", "[EMAIL]"),
        ("aged 93", "93", "age_over_89", "90+"),
        ("a 97 year old man", "97", "age_over_89", "90+"),
        ("born 1931", "1931", "birth_year", "[DATE]"),
    ],
)
def test_identifiers_are_replaced_by_placeholders(
    text: str, secret: str, rule: str, placeholder: str
) -> None:
    scrubbed, rules = scrub_text(text)
    assert secret not in scrubbed
    assert placeholder in scrubbed
    assert rule in rules


def test_edfplus_patient_field_keeps_only_sex() -> None:
    header = HeaderFields(patient="MCH-0234567 F 02-MAY-1951 Haagse_Harry",
                          recording="Startdate 02-MAR-2002 PSG-1234/2002 NN Telemetry03")
    patient, recording, report = deidentify_header(header)
    assert patient == "X F X X"
    assert recording == "Startdate X X X X"
    assert [r["action"] for r in report] == ["replaced", "replaced"]
    assert "Harry" not in json.dumps(report) and "0234567" not in json.dumps(report)


def test_free_text_patient_field_is_fully_replaced() -> None:
    patient, _, report = deidentify_header(HeaderFields(patient="John Smith born 1950"))
    assert patient == "X X X X"
    assert report[0]["action"] == "replaced"
    patient, recording, report = deidentify_header(HeaderFields(patient="X X X X"))
    assert (patient, recording) == ("X X X X", "")
    assert report[0]["action"] == "already_anonymous"


def test_wfdb_comments_keep_clinical_text_and_generalise_age() -> None:
    comments = [
        "93 F 1960 2851 x1",
        "Digoxin, Hydrochlorthiazide, Inderal, KCl",
        "The PVCs are uniform and late-cycle.",
        "age: 95",
        "sex: male",
        "ECG date: 01/10/1990",
        "Reason for admission: Myocardial infarction",
        "Referring physician: Dr. Watson",
        "Seen by Dr Watson on 12.03.1990",
        "Medication: Aspirin",
        "age: 45",
    ]
    kept, report = deidentify_comments(comments)
    assert kept == [
        "90+ F",
        "Digoxin, Hydrochlorthiazide, Inderal, KCl",
        "The PVCs are uniform and late-cycle.",
        "age: 90+",
        "sex: male",
        "Reason for admission: Myocardial infarction",
        "Medication: Aspirin",
        "age: 45",
    ]
    assert [d["index"] for d in report["dropped"]] == [5, 7, 8]
    assert {g["index"] for g in report["generalised"]} == {0, 3}
    text = json.dumps(report)
    for original in ("1960", "2851", "Watson", "1990", "95", "93"):
        assert original not in text


def test_annotation_report_lists_indices_and_rules_only() -> None:
    anns = [Annotation(0.0, 30.0, "Sleep stage W"), Annotation(1.0, 0.0, "Dr. Smith here"),
            Annotation(2.0, 0.0, "N", kind="beat"), Annotation(3.0, 0.0, "on 2019-01-05")]
    out, report = deidentify_annotations(anns)
    assert [a.label for a in out] == ["Sleep stage W", "Dr. [NAME] here", "N", "on [DATE]"]
    assert [a.onset_s for a in out] == [0.0, 1.0, 2.0, 3.0]
    assert out[2].kind == "beat"
    assert report["items"] == [{"index": 1, "rules": ["name"]}, {"index": 3, "rules": ["date"]}]
    assert report["by_rule"] == {"name": 1, "date": 1}
    assert "Smith" not in json.dumps(report)


def test_words_of_the_patient_field_are_scrubbed_from_annotations() -> None:
    header = HeaderFields(patient="MCH-0234567 M 02-MAY-1951 Haagse_Harry")
    ch = ChannelInfo(0, "EEG Fpz-Cz", ChannelKind.EEG, "uV", 100.0, 10)
    res = deidentify(header=header, start_time=datetime(2002, 3, 2, 23, 1), channels=[ch],
                     annotations=[Annotation(5.0, 0.0, "harry moved"),
                                  Annotation(6.0, 0.0, "code MCH-0234567")],
                     shift_days=-1500)
    assert [a.label for a in res.annotations] == ["[ID] moved", "code [ID]"]
    assert res.patient == "X M X X"
    assert res.start_time == datetime(1998, 1, 22, 23, 1)
    assert res.channels == [ch]
    assert res.report["annotations"]["by_rule"] == {"known_identifier": 2}


def test_placeholder_and_clinical_words_of_header_fields_do_not_scrub_labels() -> None:
    header = HeaderFields(patient="Sleep study EEG Patient No_Name",
                          recording="Startdate 03-APR-2019 X X NKC-EEG-1100C")
    ch = ChannelInfo(0, "EEG C3-M2", ChannelKind.EEG, "uV", 200.0, 10)
    labels = ["Sleep stage N2", "EEG arousal", "Patient Event", "+0.000000", "Name check"]
    res = deidentify(header=header, start_time=None, channels=[ch],
                     annotations=[Annotation(float(i), 0.0, t) for i, t in enumerate(labels)],
                     shift_days=-1000)
    assert [a.label for a in res.annotations] == labels
    assert res.report["annotations"]["scrubbed"] == 0


def test_annotation_channel_references_follow_scrubbed_channel_labels() -> None:
    header = HeaderFields(patient="X X X X Zaphod")
    chans = [ChannelInfo(0, "Zaphod EEG", ChannelKind.EEG, "uV", 100.0, 10),
             ChannelInfo(1, "ECG", ChannelKind.ECG, "mV", 100.0, 10)]
    anns = [Annotation(0.0, 1.0, "artefact", channel="Zaphod EEG"),
            Annotation(1.0, 1.0, "artefact", channel="ECG"),
            Annotation(2.0, 1.0, "artefact", channel="Zaphod extra")]
    res = deidentify(header=header, start_time=None, channels=chans, annotations=anns,
                     shift_days=-1000)
    assert [c.name for c in res.channels] == ["[ID] EEG", "ECG"]
    assert [a.channel for a in res.annotations] == ["[ID] EEG", "ECG", "[ID] extra"]
    assert res.report["channels"]["scrubbed"] == [{"index": 0, "rules": ["known_identifier"]}]


# ------------------------------------------------------------------------- end to end, stored


def _stored_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


PLANTED_EDF = ["Haagse", "Harry", "0234567", "1951", "PSG-1234", "Telemetry03", "2002",
               "Zoidberg", "998877", "john.doe@example.org"]


def test_planted_edf_identifiers_never_reach_the_stored_folder(tmp_path: Path) -> None:
    fs = 64.0
    rng = np.random.default_rng(3)
    src = tmp_path / "Harry_Haagse_1951.edf"
    write_edf(
        src,
        [EdfSignal("EEG Fpz-Cz", rng.normal(0, 20, 64 * 60), fs),
         EdfSignal("ECG", rng.normal(0, 1, 64 * 60), fs, unit="mV")],
        datetime(2002, 3, 2, 23, 1, 30),
        annotations=[Annotation(1.0, 0.0, "Lights off"),
                     Annotation(2.0, 30.0, "Sleep stage N2"),
                     Annotation(3.0, 0.0, "Dr Zoidberg checked electrodes"),
                     Annotation(4.0, 0.0, "MRN 998877 call john.doe@example.org"),
                     Annotation(5.0, 0.0, "Harry asked for water")],
        patient="MCH-0234567 F 02-MAY-1951 Haagse_Harry",
        recording="Startdate 02-MAR-2002 PSG-1234/2002 NN Telemetry03",
    )
    rec = open_recording(src)
    digests = hash_files(rec.source_files)
    res = ingest_recording(rec, tmp_path / "recordings", recording_id="rtest",
                           content_sha256=content_sha256(digests), source_files_sha256=digests,
                           shift_days=-2000)
    rec.close()
    blob = _stored_bytes(res.path)
    for original in PLANTED_EDF:
        assert original.encode() not in blob, original
    meta = json.loads((res.path / "meta.json").read_text())
    shifted = datetime(2002, 3, 2, 23, 1, 30) - timedelta(days=2000)
    assert meta["start_time"] == shifted.isoformat()
    assert meta["header"]["patient"] == "X F X X"
    labels = [a["label"] for a in
              json.loads((res.path / "annotations.json").read_text())["annotations"]]
    assert "Lights off" in labels and "Sleep stage N2" in labels
    assert "Dr [NAME] checked electrodes" in labels
    assert "[ID] asked for water" in labels


PLANTED_WFDB = ["Zebulon", "Quux", "1931", "4455667", "07/11/1999", "Vogon"]


def test_planted_wfdb_comments_and_aux_notes_never_reach_the_stored_folder(
    tmp_path: Path,
) -> None:
    fs = 250
    x = np.random.default_rng(1).normal(0, 0.5, (fs * 20, 1))
    wfdb.wrsamp(
        "rec1", fs=fs, units=["mV"], sig_name=["MLII"], p_signal=x, fmt=["16"],
        write_dir=str(tmp_path),
        comments=["95 M 4455667 x1", "Name: Zebulon Quux", "born 1931",
                  "Admission date: 07/11/1999", "Diagnosis: atrial fibrillation",
                  "Digoxin"],
    )
    wfdb.wrann("rec1", "atr", np.array([250, 500, 750]), symbol=["+", "N", "+"],
               aux_note=["(AFIB", "", "seen by Dr Vogon"], write_dir=str(tmp_path))
    rec = open_recording(tmp_path / "rec1.hea")
    digests = hash_files(rec.source_files)
    res = ingest_recording(rec, tmp_path / "recordings", recording_id="rwfdb",
                           content_sha256=content_sha256(digests), source_files_sha256=digests,
                           shift_days=-2000)
    rec.close()
    blob = _stored_bytes(res.path)
    for original in PLANTED_WFDB:
        assert original.encode() not in blob, original
    meta = json.loads((res.path / "meta.json").read_text())
    assert meta["header"]["comments"] == ["90+ M", "Diagnosis: atrial fibrillation", "Digoxin"]
    report = json.loads((res.path / "deid_report.json").read_text())
    assert len(report["comments"]["dropped"]) == 3
    labels = [a["label"] for a in
              json.loads((res.path / "annotations.json").read_text())["annotations"]]
    assert "AFIB" in labels and "N" in labels


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(
    ["Dr", "Smith", "MRN", "12345678", "2019-03-02", "22:30", "age", "95", "Sleep", "stage",
     "N2", "SpO2", "85", "born", "1931", "[ID]", "[NAME]", "ID", "+44", "555-123-4567",
     "a@b.org", "year", "old", "Patient", "Event", ":", "-", "."]), max_size=12))
def test_scrubbing_is_idempotent(words: list[str]) -> None:
    text = " ".join(words)
    once, _ = scrub_text(text)
    assert scrub_text(once) == (once, [])
