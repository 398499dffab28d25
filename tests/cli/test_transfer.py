"""`cartdesk export` / `cartdesk import`: conversations as JSON lines, imported once however often."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from cartdesk.conversations.models import Conversation, Message
from cartdesk.jobs.models import Job

ADMIN = ("user", "create", "--email", "importer@store.example", "--name", "Importer", "--role", "admin",
         "--password-stdin")


def comparable(line: dict[str, Any]) -> dict[str, Any]:
    """What must survive a round trip. Numbers are the target's own; people may not exist there."""
    return {
        **{k: line[k] for k in ("brand", "subject", "status", "priority", "channel", "custom_fields", "customer",
                                "tags", "created_at", "first_response_at", "solved_at", "closed_at", "reopened_count")},
        "messages": [{k: m[k] for k in ("external_id", "channel", "direction", "author_type", "body_text", "body_html",
                                        "created_at")} for m in line["messages"]],
    }


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def counts(cli) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with cli.database().transaction(read_only=True) as session:
        return (session.scalar(select(func.count()).select_from(Conversation)) or 0,
                session.scalar(select(func.count()).select_from(Message)) or 0)


def test_export_import_round_trip_is_idempotent(make_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source, target = make_cli("source"), make_cli("target")
    source.ok("demo", "--seed", "4", "--conversations", "16")
    exported = tmp_path / "conversations.jsonl"
    result = source.ok("export", "--out", str(exported))
    assert "Exported 16 conversations" in result.stderr
    lines = read_lines(exported)
    assert len(lines) == 16 and all(line["messages"] and line["customer"]["email"] for line in lines)

    target.ok(*ADMIN, input="a long enough secret\n")
    first = target.ok("import", str(exported))
    assert "16 created, 0 updated, 0 already present, 0 failed" in first.stderr
    after_first = counts(target)
    assert after_first == counts(source)

    again = target.ok("import", str(exported))
    assert "0 created, 0 updated, 16 already present, 0 failed; 0 messages added" in again.stderr
    assert counts(target) == after_first

    # What came in is what went out: content, statuses and the original clock readings.
    reexported = tmp_path / "again.jsonl"
    target.ok("export", "--out", str(reexported))
    assert sorted(map(comparable, read_lines(reexported)), key=lambda x: x["messages"][0]["external_id"]) == sorted(
        map(comparable, lines), key=lambda x: x["messages"][0]["external_id"]
    )
    with target.database().transaction(read_only=True) as session:
        # Replies in the file were sent long ago: importing them queues no deliveries.
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        # Agents unknown here are kept by name on their messages.
        authors = {m.meta.get("imported_author") for m in session.scalars(select(Message)) if m.meta}
        assert "priya@demo.cartdesk.dev" in authors or "tom@demo.cartdesk.dev" in authors


def test_importing_an_export_into_its_own_database_adds_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli.ok("demo", "--seed", "4", "--conversations", "10")
    exported = tmp_path / "own.jsonl"
    cli.ok("export", "--out", str(exported))
    before = counts(cli)
    result = cli.ok("import", str(exported))
    assert "0 created, 0 updated, 10 already present" in result.stderr
    assert counts(cli) == before


def test_export_to_stdout(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("demo", "--seed", "4", "--conversations", "3")
    result = cli.ok("export")
    assert len([json.loads(line) for line in result.stdout.splitlines()]) == 3
    assert "Exported 3 conversations" in result.stderr


def test_new_messages_in_a_known_conversation_are_added(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli.ok(*ADMIN, input="a long enough secret\n")
    line = {
        "brand": {"slug": "acme", "name": "Acme"},
        "subject": "Lost parcel",
        "status": "open",
        "channel": "email",
        "customer": {"email": "pat@example.org", "name": "Pat"},
        "tags": ["shipping"],
        "messages": [{"external_id": "<m1@example.org>", "direction": "inbound", "author_type": "customer",
                      "body_text": "Where is it?", "created_at": "2026-01-05T10:00:00Z"}],
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(line) + "\n")
    assert "1 created" in cli.ok("import", str(path)).stderr

    line["messages"].append({"external_id": "<m2@example.org>", "direction": "inbound", "author_type": "customer",
                             "body_text": "Hello? Any news?", "created_at": "2026-01-06T09:30:00Z"})
    path.write_text(json.dumps(line) + "\n")
    result = cli.ok("import", str(path))
    assert "0 created, 1 updated, 0 already present, 0 failed; 1 messages added" in result.stderr
    with cli.database().transaction(read_only=True) as session:
        conversation = session.scalars(select(Conversation)).unique().one()
        assert conversation.message_count == 2 and conversation.brand.slug == "acme"
        assert conversation.created_at.isoformat() == "2026-01-05T10:00:00+00:00"
        assert conversation.last_activity_at.isoformat() == "2026-01-06T09:30:00+00:00"
        assert conversation.tag_names == ["shipping"] and conversation.status == "open"


def test_bad_lines_are_reported_and_skipped(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli.ok(*ADMIN, input="a long enough secret\n")

    def conversation(n: int) -> str:
        return json.dumps({
            "subject": f"Question {n}", "brand": {"slug": "acme"}, "customer": {"email": f"c{n}@example.org"},
            "messages": [{"external_id": f"q{n}", "direction": "inbound", "author_type": "customer",
                          "body_text": f"Question number {n}", "created_at": "2026-02-01T08:00:00+00:00"}],
        })

    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([
        conversation(1),
        "{this is not json",
        json.dumps({"subject": "no customer", "messages": []}),
        "",
        json.dumps({"customer": {"email": "x@example.org"}, "messages": [
            {"direction": "outbound", "author_type": "agent", "body_text": "We start", "created_at": "2026-02-01"}]}),
        conversation(2),
    ]) + "\n")
    result = cli("import", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "line 2: skipped: Invalid input" in result.stderr
    assert "line 3: skipped: Invalid input" in result.stderr and "customer" in result.stderr
    assert "line 5: skipped: The first message of a conversation must come from the customer." in result.stderr
    assert "2 created, 0 updated, 0 already present, 3 failed" in result.stderr
    assert counts(cli) == (2, 2)
