"""`cartdesk export` and `cartdesk import`: conversations as JSON lines."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from cartdesk.cli.common import CommandError, err, load_settings, open_database


def export(
    out: Annotated[str, typer.Option("--out", "-o", help="File to write, or - for stdout.")] = "-",
) -> None:
    """Export every conversation as JSON lines: customer, messages, tags, status and timestamps."""
    from cartdesk.cli.transfer import write_export

    database = open_database(load_settings())
    try:
        with database.transaction(read_only=True) as session:
            if out == "-":
                count = write_export(session, sys.stdout)
                sys.stdout.flush()
            else:
                path = Path(out)
                if path.parent and not path.parent.exists():
                    raise CommandError(f"Cannot write {out}: the folder {path.parent} does not exist.")
                with path.open("w", encoding="utf-8") as stream:
                    count = write_export(session, stream)
    finally:
        database.dispose()
    err.print(f"Exported {count} conversations" + ("" if out == "-" else f" to {out}") + ".")


def import_(
    file: Annotated[str, typer.Argument(help="A JSON lines file from `cartdesk export` (or - for stdin).")],
    acting_as: Annotated[str | None, typer.Option(
        "--as", help="User who replays agent steps whose author is not a user here (default: the first admin).",
    )] = None,
) -> None:
    """Import conversations from JSON lines. Safe to repeat: what is already there is skipped.

    A bad line is reported with its number and skipped; the others are imported.
    """
    from cartdesk.cli.importer import import_lines

    if file != "-" and not Path(file).is_file():
        raise CommandError(f"No such file: {file}")
    database = open_database(load_settings())
    try:
        if file == "-":
            report = import_lines(database, sys.stdin, acting_as=acting_as)
        else:
            with open(file, encoding="utf-8") as stream:
                report = import_lines(database, stream, acting_as=acting_as)
    finally:
        database.dispose()
    for number, reason in report.failed:
        err.print(f"line {number}: skipped: {reason}", markup=False)
    err.print(
        f"Imported: {report.created} created, {report.updated} updated, {report.unchanged} already present, "
        f"{len(report.failed)} failed; {report.messages} messages added."
    )
    if report.failed:
        raise typer.Exit(1)
