"""`cartdesk demo`: seed the demo store once, and say how to log in."""

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cartdesk.cli.common import CommandError, err, load_settings, open_database, out, safe_url

CURATED = 120  # cartdesk.demo.seed.CURATED, repeated here to keep --help fast


def demo(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same store.")] = 42,
    conversations: Annotated[int, typer.Option(
        min=1, max=10_000_000,
        help=f"How many conversations. The first {CURATED} are full threads replayed through the "
             "services; the rest are bulk-loaded with 3 messages each (1,000,000 takes minutes).")] = 120,
    reset: Annotated[bool, typer.Option(help="Empty the database first (demo databases only) and seed again.")] = False,
) -> None:
    """Seed a realistic demo store (two brands, a support team, customers, conversations) once.

    Running it again does nothing unless --reset is given. Prints the demo logins.
    """
    from cartdesk.demo import seed as demo_seed

    settings = load_settings()
    database = open_database(settings)
    try:
        with database.transaction(read_only=True) as session:
            found = demo_seed.inspect_database(session)
        if reset and found.state != "empty":
            removed = demo_seed.reset(database)
            err.print(f"Reset: emptied the database ({removed} conversations removed).")
        elif found.state == "seeded":
            err.print(f"The demo store is already there ({found.detail}); nothing to do. "
                      "Use --reset to seed it again.")
            print_logins()
            return
        elif found.state == "unfinished":
            raise CommandError(f"The database holds an unfinished demo ({found.detail}). "
                               "Run `cartdesk demo --reset` to start over.")
        elif found.state == "other":
            err.print(f"The database {safe_url(settings)} already has data ({found.detail}); "
                      "the demo only seeds an empty database. Nothing to do.")
            return
        started = time.perf_counter()
        with Progress(
            TextColumn("[bold]Seeding demo store"), BarColumn(), MofNCompleteColumn(), TextColumn("conversations"),
            TextColumn("[dim]{task.description}"), TimeElapsedColumn(), console=err, transient=False,
        ) as progress:
            task = progress.add_task("", total=conversations)
            result = demo_seed.seed(
                database, seed=seed, conversations=conversations,
                on_progress=lambda n: progress.advance(task, n),
                on_phase=lambda text: progress.update(task, description=text),
            )
        elapsed = time.perf_counter() - started
    finally:
        database.dispose()
    err.print(f"Seeded {result.conversations} conversations ({result.curated} full threads, "
              f"{result.bulk} bulk) with seed {seed} in {elapsed:.1f}s.")
    print_logins()


def print_logins() -> None:
    from cartdesk.demo.people import USERS

    table = Table("role", "email", "password", title="Demo logins", box=None, header_style="bold",
                  title_justify="left")
    for user in USERS:
        table.add_row(str(user.role), user.email, user.password)
    out.print(table)
