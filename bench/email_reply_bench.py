"""Reply-extraction pass rate over ../shared/data/email_fixtures (docs/performance.md).

    .venv/bin/python bench/email_reply_bench.py [--fixtures DIR] [--verbose]

Checks, each pass/fail:
* crisp_expectations.json: every check naming the expected *visible reply*
  (``fragment0``, ``fragment0_trimmed``, ``visible_text``, ``parse_reply``, and
  ``output`` regexes) against ``reply.extract(text).reply``. Checks about the GitHub
  parser's internal fragment list (counts, isQuoted/isHidden flags) have no
  counterpart in our output and are counted as "not applicable", not as passes.
* ``output`` checks (crisp's parseReplied: the *quoted* part) are not applicable.
* mailgun_talon/standard_replies/*.eml (talon tests quotation removal only, so the
  signature is compared too, ``Extracted.unquoted``): the text/plain part, through the real MIME
  parser, must extract to ``<name>_reply_text`` or ``Hello``.
* mailgun_talon/html_replies/*.html: HTML → text → reply must equal
  "Hi. I am fine. Thanks, Alex" (whitespace removed, as talon's test compares).
* mailgun_talon/signature/emails/stripped: the signature found must equal
  ``<name>_signature``; P/: bodies that must come back unchanged.
Comparison ignores trailing spaces on lines and runs of blank lines.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from cartdesk.channels.email import parsing, reply

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "email_fixtures"
REPLY_KINDS = {"fragment0", "fragment0_trimmed", "visible_text", "parse_reply"}


def norm(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def crisp_cases(root: Path) -> list[tuple[str, bool, str]]:
    results = []
    for entry in json.loads((root / "crisp_expectations.json").read_text()):
        path = root / entry["file"]
        if not path.exists():
            continue  # a holdout file
        got = reply.extract(path.read_text(encoding="utf-8", errors="replace")).reply
        for check in entry["checks"]:
            kind = check["check"]
            label = f"crisp {entry['fixture']} {kind}"
            if kind in REPLY_KINDS and "equals" in check:
                results.append((label, norm(got) == norm(check["equals"]), got))
            elif kind in REPLY_KINDS:
                flags = re.IGNORECASE if "i" in check.get("flags", "") else 0
                found = re.search(check["regex"], got, flags | re.MULTILINE) is not None
                results.append((label, found == check["should_match"], got))
            else:
                results.append((label, None, ""))  # not applicable
    return results


def talon_cases(root: Path) -> list[tuple[str, bool, str]]:
    results = []
    base = root / "mailgun_talon"
    for eml in sorted((base / "standard_replies").glob("*.eml")):
        expected_file = eml.with_name(eml.stem + "_reply_text")
        expected = expected_file.read_text() if expected_file.exists() else "Hello"
        got = reply.extract(parsing.parse(eml.read_bytes()).text).unquoted
        results.append((f"talon standard {eml.stem}", norm(got) == norm(expected), got))
    for page in sorted((base / "html_replies").glob("*.html")):
        got = reply.extract(parsing.html_to_text(page.read_text(encoding="utf-8", errors="replace"))).unquoted
        results.append((f"talon html {page.stem}", squash(got) == squash("Hi. I am fine.\n\nThanks,\nAlex"), got))
    stripped = base / "signature" / "emails" / "stripped"
    for body in sorted(stripped.glob("*_body")):
        stem = body.name[: -len("_body")]
        sender = (stripped / f"{stem}_sender").read_text().strip()
        expected = (stripped / f"{stem}_signature").read_text()
        got = reply.extract(body.read_text(), sender_name=sender).signature
        results.append((f"talon signature {stem}", norm(got) == norm(expected), got))
    for body in sorted((base / "signature" / "emails" / "P").iterdir()):
        if body.name.endswith("_sender"):
            continue
        text = body.read_text(encoding="utf-8", errors="replace")
        sender_file = body.with_name(body.name.replace("_body", "_sender"))
        sender = sender_file.read_text().strip() if sender_file.exists() and sender_file != body else None
        got = reply.extract(text, sender_name=sender).signature
        results.append((f"talon no-signature {body.name}", got == "", got))
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", type=Path, default=DEFAULT)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    started = time.perf_counter()
    results = crisp_cases(args.fixtures) + talon_cases(args.fixtures)
    elapsed = time.perf_counter() - started
    graded = [r for r in results if r[1] is not None]
    passed = sum(1 for r in graded if r[1])
    for label, ok, got in results:
        if ok is False or (args.verbose and ok is not None):
            print(f"{'PASS' if ok else 'FAIL'} {label}: {got[:160]!r}")
    print(f"checks: {len(graded)} graded, {passed} passed ({100 * passed / max(1, len(graded)):.1f}%), "
          f"{len(results) - len(graded)} not applicable; {elapsed:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
