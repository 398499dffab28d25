"""The Checkpointer's rounds: a round that copies WAL pages back also syncs the database
file, so that the commit which reaches ``wal_autocheckpoint`` (on the event loop) does not
have a second's worth of copied pages to flush; a round with nothing new copies nothing and
syncs nothing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from cartdesk.db.engine import Checkpointer


def test_a_round_that_copies_pages_back_syncs_the_database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wal.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the rounds below copy pages back
    writer.execute("CREATE TABLE t (x)")
    synced: list[int] = []
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (synced.append(fd), real_fdatasync(fd))[1])
    checkpointer = Checkpointer(str(path))
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    database_file = os.open(path, os.O_RDONLY)
    try:
        for i in range(50):
            writer.execute("INSERT INTO t VALUES (?)", (i,))
        checkpointer.round(connection, database_file)
        assert synced == [database_file]
        _busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert frames == copied > 0  # the round copied every page back

        checkpointer.round(connection, database_file)  # nothing written since: nothing to sync
        assert synced == [database_file]

        writer.execute("INSERT INTO t VALUES (50)")  # the WAL starts over, one commit in it
        checkpointer.round(connection, database_file)
        assert synced == [database_file, database_file]
        assert connection.execute("SELECT count(*) FROM t").fetchone() == (51,)
    finally:
        os.close(database_file)
        connection.close()
        writer.close()
