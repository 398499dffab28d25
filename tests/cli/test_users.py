"""`cartdesk user ...` and `cartdesk token ...`."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cartdesk.app import create_app
from cartdesk.auth import service as auth_service


def test_user_create_reads_the_password_from_stdin(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli.ok("user", "create", "--email", "Sam@Store.example", "--name", "Sam Ruiz", "--role", "supervisor",
                    "--password-stdin", input="a long enough secret\n")
    user_id = int(result.stdout.strip())

    with cli.database().transaction() as session:
        user = auth_service.authenticate(session, email="sam@store.example", password="a long enough secret")
        assert user is not None and user.id == user_id
        assert user.role == "supervisor" and user.name == "Sam Ruiz"
        assert auth_service.authenticate(session, email="sam@store.example", password="wrong password") is None

    listing = cli.ok("user", "list").stdout
    assert "sam@store.example" in listing and "supervisor" in listing


def test_user_create_prompts_for_the_password_twice(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("user", "create", "--email", "kim@store.example", "--name", "Kim", input="typed twice!\ntyped twice!\n")
    with cli.database().transaction() as session:
        assert auth_service.authenticate(session, email="kim@store.example", password="typed twice!") is not None


def test_token_create_prints_only_the_token_and_it_opens_the_api(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("user", "create", "--email", "dev@store.example", "--name", "Dev", "--role", "admin",
           "--password-stdin", input="a long enough secret\n")

    result = cli.ok("token", "create", "--email", "dev@store.example", "--name", "ci")
    token = result.stdout
    assert token.endswith("\n") and token.count("\n") == 1  # one line: TOKEN=$(...) captures exactly it
    token = token.strip()
    assert token.startswith("cd_")
    assert token[:10] in result.stderr and "dev@store.example" in result.stderr

    read_only = cli.ok("token", "create", "--email", "dev@store.example", "--scopes",
                       "conversations:read").stdout.strip()

    with TestClient(create_app(cli.settings())) as client:
        listed = client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200 and listed.json()["items"] == []
        assert client.get("/api/v1/conversations", headers={"Authorization": "Bearer cd_not-a-token"}).status_code == 401
        body = {"customer": {"email": "a@b.example"}, "subject": "Hi", "message": {"body": "Hello"}}
        denied = client.post("/api/v1/conversations", json=body, headers={"Authorization": f"Bearer {read_only}"})
        assert denied.status_code == 403


def test_token_scopes_are_checked_before_anything_is_written(cli) -> None:  # type: ignore[no-untyped-def]
    cli.ok("user", "create", "--email", "agent@store.example", "--name", "Agent", "--password-stdin",
           input="a long enough secret\n")
    result = cli("token", "create", "--email", "agent@store.example", "--scopes", "conversations:read,bogus")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Unknown scope(s): bogus" in result.stderr
    # An agent cannot hold the admin scope: the service refuses, the CLI says so.
    result = cli("token", "create", "--email", "agent@store.example", "--scopes", "admin")
    assert result.exit_code == 1 and "admin" in result.stderr and "Traceback" not in result.stderr
