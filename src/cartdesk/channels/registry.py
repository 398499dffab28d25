"""Channel adapters by name: the one place the delivery job looks a channel up.

Adapters that need settings (SMTP credentials, API keys) are built and
registered by the app factory or the worker at start-up; the ``api`` channel needs
nothing and is always present.
"""

from __future__ import annotations

import threading

from cartdesk.channels.base import ChannelAdapter

_adapters: dict[str, ChannelAdapter] = {}
_lock = threading.Lock()


def _builtins() -> list[ChannelAdapter]:
    from cartdesk.channels.api import ApiAdapter

    return [ApiAdapter()]


def _ensure_builtins() -> None:
    if "api" in _adapters:
        return
    with _lock:
        for adapter in _builtins():
            _adapters.setdefault(adapter.name, adapter)


def register(adapter: ChannelAdapter, *, replace: bool = False) -> ChannelAdapter:
    """Make ``adapter`` the handler of ``adapter.name``; refuses a second one unless ``replace``."""
    _ensure_builtins()
    with _lock:
        current = _adapters.get(adapter.name)
        if current is not None and current is not adapter and not replace:
            raise ValueError(f"A channel adapter named {adapter.name!r} is already registered.")
        _adapters[adapter.name] = adapter
    return adapter


def unregister(name: str) -> None:
    with _lock:
        _adapters.pop(name, None)


def get(name: str) -> ChannelAdapter | None:
    _ensure_builtins()
    return _adapters.get(name)


def names() -> list[str]:
    _ensure_builtins()
    return sorted(_adapters)
