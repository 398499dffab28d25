"""IMAP → inbox latency with IDLE: from APPEND on the server to the message stored in Cartdesk.

    .venv/bin/python bench/email_idle_bench.py [--messages 20]

Starts a Dovecot on loopback (Debian's dovecot-imapd, as the tests do), a fresh
SQLite database and one mailbox poller with a 300 s poll interval, so only IDLE can
bring mail in quickly. Each mail is appended on the server, then the database is
watched until the message is there. Prints median, p95 and max latency.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from imapclient import IMAPClient
from sqlalchemy import select

from cartdesk.channels.email.imap import MailboxPoller, PollerConfig
from cartdesk.conversations.models import Message
from cartdesk.db.engine import create_database
from cartdesk.db.migrate import upgrade
from cartdesk.kit.storage import LocalStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.channels.email.servers import dovecot_binary, running_dovecot  # noqa: E402
from tests.factories.email import SECRET, make_mail, make_mailbox  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20)
    args = ap.parse_args()
    binary = dovecot_binary()
    if binary is None:
        print("dovecot is not installed (apt-get install dovecot-imapd)")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="cartdesk-idle-"))
    db = create_database(f"sqlite:///{tmp}/idle.db")
    upgrade(db.engine)
    with running_dovecot(binary) as server:
        user = server.add_user()
        with db.transaction() as session:
            mailbox_id = make_mailbox(session, address=user, imap_host="127.0.0.1", imap_port=server.port,
                                      imap_security="none", imap_username=user, imap_password="secret").id
        config = PollerConfig(secret_key=SECRET, store=LocalStore(tmp / "att"), poll_interval=300.0)
        stop = threading.Event()
        thread = threading.Thread(target=MailboxPoller(db, mailbox_id=mailbox_id, config=config).run, args=(stop,))
        thread.start()
        client = IMAPClient("127.0.0.1", port=server.port, ssl=False)
        client.login(user, "secret")
        time.sleep(1.0)  # the poller is connected and idling
        latencies = []
        for n in range(args.messages):
            message_id = f"idle-{n}@bench.example"
            sent = time.perf_counter()
            client.append("INBOX", make_mail(to=user, message_id=message_id, subject=f"idle {n}"))
            while True:
                with db.transaction(read_only=True) as session:
                    if session.scalar(select(Message.id).where(Message.external_id == message_id)):
                        break
                if time.perf_counter() - sent > 30:
                    print(f"message {n} did not arrive within 30 s")
                    return 1
                time.sleep(0.005)
            latencies.append(time.perf_counter() - sent)
            time.sleep(0.2)
        client.logout()
        stop.set()
        thread.join(30)
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"{len(latencies)} mails: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms (target: ≤ 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
