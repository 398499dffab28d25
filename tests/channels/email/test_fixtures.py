"""Every file in ../shared/data/email_fixtures goes through the real parser and reply extraction.

The fixtures are real mails from six open-source reply parsers' test suites. Each
raw ``.eml`` must parse and file into a conversation; each text body must fold to a
non-empty reply that is a part of what the customer wrote; and the expectation
checks (crisp_expectations.json, talon's reply/signature files) must pass at the
rate the issue asks for (bench/email_reply_bench.py prints the failures).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cartdesk.channels.email import ingest, parsing, reply
from cartdesk.kit.storage import LocalStore
from tests.conftest import shared_data
from tests.factories.email import make_mailbox

_BENCH = Path(__file__).resolve().parents[3] / "bench" / "email_reply_bench.py"


def _files(suffixes: tuple[str, ...]) -> list[Path]:
    root = shared_data("email_fixtures")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in suffixes)


def _squash(text: str) -> str:
    return "".join(text.split())


def test_every_raw_mail_parses_and_is_filed(session: Session, store: LocalStore) -> None:
    mailbox = make_mailbox(session, max_per_sender_per_hour=10_000)
    files = _files((".eml",))
    assert len(files) >= 5
    for path in files:
        raw = path.read_bytes()
        parsed = parsing.parse(raw)
        assert parsed.text.strip(), path
        result = ingest.ingest(session, raw=raw, source="test", store=store, mailbox=mailbox)
        assert result.outcome in ("created", "appended"), (path, result)


def test_every_text_body_folds_to_part_of_itself() -> None:
    files = _files((".txt",))
    assert len(files) >= 50
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            continue
        extracted = reply.extract(text)
        assert extracted.reply.strip(), path
        # Folding only removes: every character of the reply is in the original, in order of lines.
        assert _squash(extracted.reply) in _squash(text) or all(
            _squash(line) in _squash(text) for line in extracted.reply.splitlines()), path


def test_every_html_reply_converts_to_text() -> None:
    for path in _files((".html",)):
        text = parsing.html_to_text(path.read_text(encoding="utf-8", errors="replace"))
        assert text.strip(), path
        assert "<div" not in text and "<p>" not in text, path


def test_expectation_checks_pass_at_the_target_rate() -> None:
    root = shared_data("email_fixtures")
    spec = importlib.util.spec_from_file_location("email_reply_bench", _BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.crisp_cases(root) + bench.talon_cases(root)
    graded = [ok for _, ok, _ in results if ok is not None]
    assert len(graded) >= 60
    rate = sum(graded) / len(graded)
    assert rate >= 0.95, f"reply extraction passes {rate:.1%} of the fixture checks; the target is 95%"


@pytest.mark.parametrize("name, expected", [
    ("email_1_3", "Oh thanks.\n\nHaving the function would be great.\n\n-Abhishek Kona"),
])
def test_a_known_reply_is_exact(name: str, expected: str) -> None:
    path = next(iter(shared_data("email_fixtures").rglob(f"{name}.txt")), None)
    if path is None:
        pytest.skip(f"{name} is in the holdout")
    extracted = reply.extract(path.read_text())
    assert extracted.reply == expected and extracted.folded
