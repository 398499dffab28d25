"""Channel adapters by name: the one place the delivery job looks a channel up.

Adapters that need settings (SMTP credentials, API keys) are built and
registered by the app factory or the worker at start-up; the ``api`` channel needs
nothing and is always present.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from cartdesk.channels.base import ChannelAdapter

if TYPE_CHECKING:
    from cartdesk.config import Settings

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


def configure(settings: Settings) -> None:
    """Register the adapters that settings ask for (app start-up and `cartdesk worker`).

    The settings decide: an adapter that an earlier ``configure`` installed (email,
    a dev outbox, chat, the contact form) is replaced by what these settings ask for,
    so two apps built in one process with different settings each get their own
    choice. Adapters registered by hand (a test's fake, an embedding app's own) are
    kept. ``chat`` in ``CARTDESK_DEV_OUTBOX_CHANNELS`` is ignored: live chat needs no
    provider.
    """
    from cartdesk.channels.chat.adapter import ChatAdapter
    from cartdesk.channels.email.adapter import EmailAdapter
    from cartdesk.channels.outbox import OutboxAdapter
    from cartdesk.channels.web import WebFormAdapter

    configurable = (ChatAdapter, EmailAdapter, OutboxAdapter, WebFormAdapter)

    def install(adapter: ChannelAdapter) -> None:
        current = get(adapter.name)
        if current is None or isinstance(current, configurable):
            register(adapter, replace=True)

    outboxes = [name for name in settings.dev_outbox_channel_names if name != ChatAdapter.name]
    install(ChatAdapter())
    install(WebFormAdapter())
    if "email" not in outboxes:
        from cartdesk.kit.storage import create_store

        install(EmailAdapter(secret_key=settings.resolved_secret_key(), store=create_store(settings)))
    for name in outboxes:
        install(OutboxAdapter(name, settings.data_dir / "outbox"))
