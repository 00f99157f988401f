"""Every error class has a problem-details mapping; the JSON shape is fixed; 500s leak nothing."""

from __future__ import annotations

import importlib

import msgspec
import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

import signal_io.errors
import store.errors
from detectors.registry import UnknownDetectorError
from server import errors as server_errors
from server.problems import EXCEPTION_HANDLERS, PROBLEMS, problem_for

LAYER_BASES: list[type[BaseException]] = [
    signal_io.errors.SignalIOError,
    store.errors.StoreError,
    server_errors.ServerError,
    UnknownDetectorError,
]


def all_subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found = {cls}
    for sub in cls.__subclasses__():
        found |= all_subclasses(sub)
    return found


def every_error_class() -> list[type[BaseException]]:
    # import every module that defines errors, so subclasses defined anywhere are registered
    for name in ("signal_io", "signal_io.errors", "store", "store.errors", "server.errors",
                 "detectors.registry"):
        importlib.import_module(name)
    classes: set[type[BaseException]] = set()
    for base in LAYER_BASES:
        classes |= all_subclasses(base)
    return sorted(classes, key=lambda c: f"{c.__module__}.{c.__qualname__}")


@pytest.mark.parametrize("cls", every_error_class(), ids=lambda c: c.__qualname__)
def test_every_error_class_has_a_problem_mapping(cls: type[BaseException]) -> None:
    assert cls in PROBLEMS, (
        f"{cls.__module__}.{cls.__qualname__} has no entry in server.problems.PROBLEMS"
    )
    problem = PROBLEMS[cls]
    assert 400 <= problem.status <= 599
    assert problem.title and problem.title[0].isupper()


def test_not_found_errors_are_404_and_limit_errors_name_their_setting() -> None:
    for cls in every_error_class():
        if cls.__name__.endswith("NotFoundError") or cls.__name__.startswith("Unknown"):
            assert PROBLEMS[cls].status in (404, 422), cls
    body = problem_for(server_errors.WindowLimitError("too wide", "WAVESCORE_MAX_PX"))
    assert body.status == 400 and body.setting == "WAVESCORE_MAX_PX"


def test_problem_body_shape() -> None:
    body = msgspec.to_builtins(problem_for(store.errors.RecordingNotFoundError("r1")))
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["type"] == "urn:wavescore:problem:recording-not-found"
    assert isinstance(body["title"], str) and isinstance(body["detail"], str)
    assert body["status"] == 404
    assert "r1" in body["detail"]


def test_signal_io_detail_omits_nothing_useful() -> None:
    exc = signal_io.errors.ChannelNotFoundError("no channel named 'X'", "/data/r1")
    body = problem_for(exc)
    assert body.status == 404 and "no channel named 'X'" in body.detail


@get("/boom", sync_to_thread=False)
def boom() -> str:
    raise RuntimeError("secret internal state /etc/passwd")


@get("/lookup", sync_to_thread=False)
def lookup() -> str:
    raise server_errors.UnknownRecordingError("no recording with id 'x'")


def test_unexpected_exception_is_500_problem_without_traceback() -> None:
    app = Litestar([boom, lookup], exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
                   debug=False, logging_config=None)
    with TestClient(app) as client:
        r = client.get("/boom")
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert set(body) == {"type", "title", "status", "detail"}
        assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
        r = client.get("/lookup")
        assert r.status_code == 404 and r.json()["title"] == "Recording not found"
        r = client.get("/no/such/route")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 404
