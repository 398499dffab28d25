"""People and API tokens: `cartdesk user ...` and `cartdesk token ...`."""

import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from cartdesk.cli.common import CommandError, cli_actor, err, load_settings, open_database, out

ROLES = ("admin", "supervisor", "agent")  # cartdesk.auth.models.Role, spelled out to keep --help fast
SCOPE_HELP = "conversations:read, conversations:write, customers:read, customers:write, kb:read, kb:write, orders:read, orders:write, admin"

user_app = typer.Typer(help="Create and list the people who work in Cartdesk.", no_args_is_help=True)
token_app = typer.Typer(help="Create API tokens for the REST API.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CommandError("--password-stdin was given but stdin held no password.")
        return password
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)


@user_app.command("create")
def create_user(
    email: Annotated[str, typer.Option(help="Login email (unique).")],
    name: Annotated[str, typer.Option(help="Full name shown to colleagues.")],
    role: Annotated[str, typer.Option(help="What the person may do: admin, supervisor or agent.")] = "agent",
    team: Annotated[list[str] | None, typer.Option(help="Team name to join; repeat for several.")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin instead of prompting.")] = False,
) -> None:
    """Create a user. The password is asked twice (hidden) unless --password-stdin is given."""
    from cartdesk.auth import service as auth_service
    from cartdesk.auth.schemas import UserCreate

    role = role.strip().lower()
    if role not in ROLES:
        raise CommandError(f"Unknown role {role!r}: choose admin, supervisor or agent.")
    settings = load_settings()
    database = open_database(settings)
    password = _read_password(password_stdin)
    try:
        with database.transaction() as session:
            teams = {t.name.lower(): t.id for t in auth_service.list_teams(session)}
            missing = [t for t in team or [] if t.lower() not in teams]
            if missing:
                known = ", ".join(sorted(t.name for t in auth_service.list_teams(session))) or "none yet"
                raise CommandError(f"Unknown team(s): {', '.join(missing)}. Known teams: {known}.")
            user_in = UserCreate(
                email=email, name=name, role=role, password=password,
                team_ids=[teams[t.lower()] for t in team or []],
            )
            user = auth_service.create_user(session, actor=cli_actor(), user_in=user_in)
            user_id, user_email = user.id, user.email
    finally:
        database.dispose()
    err.print(f"Created {role} {user_email} (id {user_id}).")
    out.print(user_id)


@user_app.command("list")
def list_users() -> None:
    """List every user with role, status and teams."""
    from cartdesk.auth import service as auth_service

    database = open_database(load_settings())
    try:
        with database.transaction(read_only=True) as session:
            users = auth_service.list_users(session)
            table = Table("id", "email", "name", "role", "active", "teams", box=None, header_style="bold")
            for user in users:
                table.add_row(
                    str(user.id), user.email, user.name, str(user.role), "yes" if user.is_active else "no",
                    ", ".join(t.name for t in user.teams),
                )
    finally:
        database.dispose()
    if not users:
        err.print("No users yet: create one with `cartdesk user create` or seed the demo with `cartdesk demo`.")
        return
    out.print(table)


def _parse_scopes(values: list[str] | None) -> list[str] | None:
    from cartdesk.auth.schemas import SCOPES

    if not values:
        return None
    scopes = [s.strip() for value in values for s in value.split(",") if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise CommandError(f"Unknown scope(s): {', '.join(unknown)}. Allowed: {', '.join(SCOPES)}.")
    return scopes


@token_app.command("create")
def create_token(
    email: Annotated[str, typer.Option(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="A label to tell tokens apart.")] = "CLI token",
    scopes: Annotated[list[str] | None, typer.Option(
        help=f"Scopes, repeated or comma-separated (default: all the user's role allows). One of: {SCOPE_HELP}."
    )] = None,
    expires_in_days: Annotated[int | None, typer.Option(min=1, help="Expire after this many days.")] = None,
) -> None:
    """Create an API token and print it alone on stdout: TOKEN=$(cartdesk token create --email ...)."""
    from cartdesk.auth import service as auth_service
    from cartdesk.auth.models import Role
    from cartdesk.auth.schemas import SCOPES, TokenCreate
    from cartdesk.kit.clock import utcnow

    wanted = _parse_scopes(scopes)
    database = open_database(load_settings())
    try:
        with database.transaction() as session:
            user = auth_service.get_by_email(session, email=email)
            if user is None:
                raise CommandError(f"No user with email {email}; create one with `cartdesk user create`.")
            if not user.is_active:
                raise CommandError(f"{user.email} is deactivated; a token for them would not work.")
            if wanted is None and user.role != Role.admin:
                wanted = [s for s in SCOPES if s != "admin"]
            expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
            row, token = auth_service.create_token(
                session, actor=cli_actor(), user=user,
                token_in=TokenCreate(name=name, scopes=wanted, expires_at=expires_at),
            )
            summary = f"Token {row.prefix}… '{row.name}' for {user.email}, scopes: {', '.join(row.scopes)}"
    finally:
        database.dispose()
    err.print(summary + (f", expires {expires_at:%Y-%m-%d}" if expires_at else "") + ". Shown once:")
    # Plain print, not rich: nothing may wrap or decorate the one value scripts capture.
    print(token)
