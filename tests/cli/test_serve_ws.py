"""`cartdesk serve`: the lighter sans-I/O websockets protocol by default when installed,
uvicorn's own choice when not, and a clear message for an unknown value (``--ws``); each web
process builds its app with the factory that freezes startup's objects out of full GC passes."""

from __future__ import annotations

import gc
import sys
from typing import Any

import pytest
import uvicorn

from cartdesk import app as app_module
from cartdesk.cli.server import pick_ws


def _served_with(cli, monkeypatch: pytest.MonkeyPatch, *args: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kwargs: seen.update(kwargs, target=target))
    cli.ok("serve", "--port", "8765", *args)
    return seen


def test_serve_picks_the_sansio_protocol_and_honours_an_explicit_choice(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert _served_with(cli, monkeypatch)["ws"] == "websockets-sansio"
    assert _served_with(cli, monkeypatch, "--ws", "wsproto")["ws"] == "wsproto"
    refused = cli("serve", "--ws", "carrier-pigeon")
    assert refused.exit_code == 2 and "websockets-sansio" in refused.output


def test_auto_falls_back_when_the_sansio_protocol_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pick_ws("auto") == "websockets-sansio"
    # An older uvicorn or websockets: the module is not importable.
    monkeypatch.setitem(sys.modules, "uvicorn.protocols.websockets.websockets_sansio_impl", None)
    assert pick_ws("auto") == "auto"
    assert pick_ws("websockets") == "websockets"


def test_permessage_deflate_is_off_unless_asked_for(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert _served_with(cli, monkeypatch)["ws_per_message_deflate"] is False
    assert _served_with(cli, monkeypatch, "--ws-deflate")["ws_per_message_deflate"] is True


def test_serve_builds_each_process_app_with_the_freezing_factory(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    seen = _served_with(cli, monkeypatch)
    assert seen["target"] == "cartdesk.app:create_served_app" and seen["factory"] is True


def test_the_served_app_freezes_what_startup_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built = object()
    monkeypatch.setattr(app_module, "create_app", lambda: built)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        assert app_module.create_served_app() is built
        assert gc.get_freeze_count() > 1000  # the test process's modules and objects so far
    finally:
        gc.unfreeze()
