"""The small pieces under the pages: relative times, safe redirects, the login throttle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cartdesk.web import security
from cartdesk.web.templating import avatar_hue, initials, reltime

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("ago", "expected"), [
    (timedelta(seconds=20), "now"),
    (timedelta(minutes=5), "5m"),
    (timedelta(hours=3), "3h"),
    (timedelta(hours=30), "Yesterday"),
    (timedelta(days=4), "4d"),
    (timedelta(days=20), "Feb 18"),
    (timedelta(days=400), "Feb 4, 2024"),
])
def test_reltime(ago: timedelta, expected: str) -> None:
    assert reltime(NOW - ago, now=NOW) == expected


def test_initials_and_hue_are_stable() -> None:
    assert initials("maria del mar lopez") == "MD"
    assert initials("ana@example.com") == "AE"
    assert initials("") == "?"
    # The same arithmetic as app.js: h = (h * 31 + code) mod 2**32, then mod 360.
    h = 0
    for ch in "Maria":
        h = (h * 31 + ord(ch)) % 2**32
    assert avatar_hue("Maria") == h % 360


@pytest.mark.parametrize(("target", "expected"), [
    ("/conversations/3?x=1", "/conversations/3?x=1"),
    ("//evil.example", "/"),
    ("https://evil.example", "/"),
    ("/\\evil.example", "/"),
    ("", "/"),
    (None, "/"),
])
def test_safe_next(target: str | None, expected: str) -> None:
    assert security.safe_next(target) == expected


def test_throttle_counts_per_email_and_ip_and_forgets_on_success(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(security.time, "monotonic", lambda: clock[0])
    throttle = security.LoginThrottle(max_failures=3, max_failures_per_ip=5, window=60)
    for _ in range(3):
        assert throttle.retry_after(email="A@x.io", ip="1.1.1.1") is None
        throttle.record_failure(email="a@x.io", ip="1.1.1.1")
    assert throttle.retry_after(email="a@x.io", ip="2.2.2.2") == 61  # per email, from any address
    assert throttle.retry_after(email="b@x.io", ip="1.1.1.1") is None  # the address is not yet blocked
    throttle.record_failure(email="b@x.io", ip="1.1.1.1")
    throttle.record_failure(email="c@x.io", ip="1.1.1.1")
    assert throttle.retry_after(email="d@x.io", ip="1.1.1.1") is not None  # five failures from one address
    clock[0] += 61
    assert throttle.retry_after(email="a@x.io", ip="1.1.1.1") is None  # failures age out
    throttle.record_failure(email="a@x.io", ip=None)
    throttle.record_success(email="a@x.io")
    assert throttle.retry_after(email="a@x.io", ip=None) is None
