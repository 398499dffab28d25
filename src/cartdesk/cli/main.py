"""The `cartdesk` command: one Typer app with every subcommand registered here."""

import typer

from cartdesk.cli import data, demo, kb, server, store, users
from cartdesk.cli.common import FriendlyGroup

app = typer.Typer(
    cls=FriendlyGroup,
    name="cartdesk",
    help="Cartdesk: self-hosted customer support for online stores. "
         "Settings come from CARTDESK_* environment variables (or .env).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

app.command()(server.serve)
app.command()(server.migrate)
app.command()(server.worker)
app.command()(demo.demo)
app.add_typer(users.user_app, name="user")
app.add_typer(users.token_app, name="token")
app.add_typer(kb.kb_app, name="kb")
app.command("export")(data.export)
app.command("import")(data.import_)
app.add_typer(store.store_app, name="store")

if __name__ == "__main__":
    app()
