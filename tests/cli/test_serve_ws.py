"""`cartdesk serve --ws`: the lighter sans-I/O websockets protocol by default when installed,
uvicorn's own choice when not, and a clear message for an unknown value."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import uvicorn

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
