"""Bad input gets one readable line and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest

from cartdesk.cli.main import app

COMMANDS = [[], ["serve"], ["migrate"], ["worker"], ["demo"], ["export"], ["import"], ["user"], ["user", "create"],
            ["user", "list"], ["token"], ["token", "create"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "cartdesk")
def test_every_command_explains_itself(command: list[str]) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Usage: cartdesk" in result.stdout
    if command:
        assert "--help" in result.stdout


def _readable(result, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code != 0
    assert "Traceback" not in result.stdout + result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_unknown_role(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("user", "create", "--email", "x@store.example", "--name", "X", "--role", "boss", "--password-stdin",
                 input="a long enough secret\n")
    _readable(result, "Unknown role 'boss'", "admin, supervisor or agent")


def test_duplicate_email(cli) -> None:  # type: ignore[no-untyped-def]
    args = ("user", "create", "--email", "x@store.example", "--name", "X", "--password-stdin")
    cli.ok(*args, input="a long enough secret\n")
    _readable(cli(*args, input="another secret here\n"), "already exists")


def test_short_password_and_bad_email(cli) -> None:  # type: ignore[no-untyped-def]
    _readable(cli("user", "create", "--email", "x@store.example", "--name", "X", "--password-stdin", input="short\n"),
              "password", "at least 8 characters")
    _readable(cli("user", "create", "--email", "not-an-email", "--name", "X", "--password-stdin",
                  input="a long enough secret\n"), "email")


def test_token_for_unknown_user(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("token", "create", "--email", "nobody@store.example")
    _readable(result, "No user with email nobody@store.example")
    assert result.stdout == ""


def test_commands_on_an_unmigrated_database_say_to_migrate(make_cli) -> None:  # type: ignore[no-untyped-def]
    cli = make_cli("empty", migrate=False)
    for command in (["demo"], ["user", "list"], ["export"]):
        _readable(cli(*command), "cartdesk migrate")


def test_migrate_prints_the_revision_and_is_repeatable(make_cli) -> None:  # type: ignore[no-untyped-def]
    from cartdesk.cli.common import head_revision

    cli = make_cli("fresh", migrate=False)
    first = cli.ok("migrate")
    assert first.stdout.strip() == f"revision {head_revision()}"
    assert "from an empty database" in first.stderr
    again = cli.ok("migrate")
    assert again.stdout == first.stdout and "up to date" in again.stderr


def test_import_of_a_missing_file(cli) -> None:  # type: ignore[no-untyped-def]
    _readable(cli("import", "/no/such/file.jsonl"), "No such file: /no/such/file.jsonl")


def test_help_texts_name_what_the_code_accepts() -> None:
    # The CLI spells these out to keep `--help` free of heavy imports; they must not drift.
    from cartdesk.auth.models import Role
    from cartdesk.auth.schemas import SCOPES
    from cartdesk.cli import demo, users
    from cartdesk.demo import seed

    assert tuple(r.value for r in Role) == users.ROLES
    assert ", ".join(SCOPES) == users.SCOPE_HELP
    assert demo.CURATED == seed.CURATED
