"""Real mail servers on loopback for the tests: Dovecot (IMAP) started as an unprivileged process.

Dovecot comes from Debian's ``dovecot-imapd`` (``.ci/run`` installs it in CI). Outside
CI a machine without it skips these tests; in CI a missing Dovecot fails them.
"""

from __future__ import annotations

import grp
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI

_users = itertools.count(1)
USERS = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Dovecot:
    port: int
    root: Path

    def add_user(self) -> str:
        """A fresh account (password "secret"). The accounts are written before Dovecot
        starts: it re-reads the password file only when its mtime changes, and that has
        one-second resolution."""
        n = next(_users)
        if n > USERS:
            raise RuntimeError("the test Dovecot ran out of accounts; raise USERS")
        return f"user{n}@shop.example"


_CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 100
{imap_extra}
}}
{extra}
"""

# A plainer server than Dovecot's defaults, for the code paths most providers never take:
# no IDLE (poll every interval), no MOVE and no UIDPLUS (COPY + \Deleted + EXPUNGE), and
# no keywords of our own. The capability list is what Dovecot announces (it would still
# accept the commands; the poller must not send them). Keywords are refused for real: a
# global ACL without the "w" right leaves only \Seen and \Deleted settable, and
# PERMANENTFLAGS says so.
BASIC_IMAP = "  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ NAMESPACE\n"
BASIC_EXTRA = """
mail_plugins = $mail_plugins acl
plugin {{
  acl = vfile:{root}/global-acl
}}
"""
BASIC_ACL = "* owner lrsitekxa\n"


def _unprivileged() -> tuple[int, int, str, str]:
    """Who Dovecot runs as: ourselves, or (when the tests run as root) the dovecot user."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    for name in ("dovecot", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid, name, grp.getgrgid(entry.pw_gid).gr_name
    raise RuntimeError("no unprivileged user to run Dovecot as")


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    binary = dovecot_binary()
    if binary is None:
        if IN_CI:
            raise RuntimeError("dovecot is missing in CI (apt-get install dovecot-imapd)")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    with running_dovecot(binary) as server:
        yield server


@pytest.fixture(scope="session")
def dovecot_basic() -> Iterator[Dovecot]:
    """A Dovecot without IDLE, MOVE, UIDPLUS and keywords (see ``BASIC_IMAP``)."""
    binary = dovecot_binary()
    if binary is None:
        if IN_CI:
            raise RuntimeError("dovecot is missing in CI (apt-get install dovecot-imapd)")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    with running_dovecot(binary, basic=True) as server:
        yield server


@contextmanager
def running_dovecot(binary: str, *, basic: bool = False) -> Iterator[Dovecot]:
    """Dovecot on a free loopback port until the block ends (tests and bench/email_idle_bench.py)."""
    # Not under pytest's tmp dir: that is private to us (0700), and Dovecot runs as another user.
    root = Path(tempfile.mkdtemp(prefix="cartdesk-dovecot-"))
    uid, gid, user, group = _unprivileged()
    port = _free_port()
    extra = BASIC_EXTRA.format(root=root) if basic else ""
    (root / "dovecot.conf").write_text(_CONFIG.format(root=root, user=user, group=group, port=port,
                                                      imap_extra=BASIC_IMAP if basic else "", extra=extra))
    if basic:
        (root / "global-acl").write_text(BASIC_ACL)
    (root / "passwd").write_text("".join(f"user{n}@shop.example:{{PLAIN}}secret\n" for n in range(1, USERS + 1)))
    for path in (root, *root.iterdir()):
        os.chown(path, uid, gid)
    os.chmod(root, 0o755)

    def drop_privileges() -> None:
        os.setsid()
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)

    proc = subprocess.Popen([binary, "-F", "-c", str(root / "dovecot.conf")], preexec_fn=drop_privileges,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            proc.kill()
            raise RuntimeError(f"dovecot did not start: {proc.stderr.read() if proc.stderr else ''} {log}")
        time.sleep(0.1)
    try:
        yield Dovecot(port=port, root=root)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # its own process group: master and its children, nothing else
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
