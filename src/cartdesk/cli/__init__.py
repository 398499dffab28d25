"""The `cartdesk` command line: serve, migrate, worker, demo, users, tokens, export and import."""
