"""``Router``: FastAPI's APIRouter that declines a request its routes cannot match, cheaply.

FastAPI (0.16x) keeps an included router as a nested router and asks every route of
every router included before the one that serves a request, with no look at the path
first: a help-center page was matched against the whole REST API, about 0.7 ms of
Python per request (docs/performance.md). This router knows the fixed start of each of
its routes' paths (``/api/v1/kb/`` of ``/api/v1/kb/articles/{id}``) and answers "no
match" at once when the request's path starts with none of them; otherwise FastAPI
matches as before, so 405s (a partial match), redirects and everything else behave the
same. Every router in Cartdesk is one of these.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

try:  # where FastAPI keeps an included router (0.16x); older versions flatten instead
    from fastapi.routing import _IncludedRouter
except ImportError:  # pragma: no cover - depends on the installed FastAPI
    _IncludedRouter = None  # type: ignore[assignment,misc]


def _fixed_start(path: str) -> str:
    return path.split("{", 1)[0]


class Router(APIRouter):
    _starts: tuple[str, ...] | None = None
    _starts_version: Any = object()

    def path_starts(self) -> tuple[str, ...]:
        """The fixed start of every route's path; ``("",)`` (anything) when a route's path
        cannot be known, so that such a router is always asked."""
        version = self._get_routes_version() if hasattr(self, "_get_routes_version") else None
        if self._starts is not None and version == self._starts_version:
            return self._starts
        starts: set[str] = set()
        for route in self.routes:
            starts.update(_route_starts(route, prefix=""))
        self._starts = ("",) if "" in starts or not starts else tuple(sorted(starts))
        self._starts_version = version
        return self._starts

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") in ("http", "websocket"):
            path = scope.get("path", "")
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            if not path.startswith(self.path_starts()):
                return Match.NONE, {}
        return super().matches(scope)


def _route_starts(route: BaseRoute, *, prefix: str) -> set[str]:
    """The fixed starts of one route's paths; ``{""}`` for a route whose path is unknown."""
    if _IncludedRouter is not None and isinstance(route, _IncludedRouter):
        inner = prefix + (route.include_context.prefix or "")
        router = route.original_router
        if isinstance(router, Router):
            return {inner + start for start in router.path_starts()}
        return {start for child in router.routes for start in _route_starts(child, prefix=inner)} or {""}
    path = getattr(route, "path", None)
    return {_fixed_start(prefix + path)} if isinstance(path, str) else {""}
