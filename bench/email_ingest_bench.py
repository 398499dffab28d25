"""Ingest throughput: mails sent to Cartdesk's SMTP receiver → threaded, stored conversations.

    .venv/bin/python bench/email_ingest_bench.py [--messages 2000] [--database-url URL]

A fresh database (SQLite file by default) with one brand and one mailbox; the
receiver (aiosmtpd) runs in this process on loopback and files each mail in its own
transaction before answering 250. One client connection sends the mails: every
third is a reply (In-Reply-To an earlier mail), so threading lookups are part of
the cost. Reported: mails per second end to end (wall clock), mails per CPU-second
of the receiving process (what one core does when it is not shared), and the
stored counts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import socket
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from cartdesk.channels.email.ingest import Limits
from cartdesk.channels.email.smtp_server import SmtpReceiver
from cartdesk.conversations.models import Conversation, Message
from cartdesk.db.engine import create_database
from cartdesk.db.migrate import upgrade
from cartdesk.kit.storage import LocalStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.factories.email import make_mail, make_mailbox  # noqa: E402


def _send(port: int, to: str, mails: list[bytes]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for raw in mails:
            smtp.sendmail("customer@c.example", [to], raw)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cartdesk-ingest-"))
    url = args.database_url or f"sqlite:///{tmp}/bench.db"
    db = create_database(url)
    upgrade(db.engine)
    with db.transaction() as session:
        mailbox = make_mailbox(session, inbound_address="bench@in.cartdesk.example", max_per_sender_per_hour=10_000)
        inbound = mailbox.inbound_address
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    receiver = SmtpReceiver(db, host="127.0.0.1", port=port, store=LocalStore(tmp / "att"), limits=Limits())
    receiver.start()
    mails = []
    for n in range(args.messages):
        reply_to = f"bench-{n - 1}@c.example" if n % 3 == 2 else None
        mails.append(make_mail(sender=f"customer{n // 3}@c.example", to=inbound or "", subject=f"Order #{10_000 + n // 3}",
                               message_id=f"bench-{n}@c.example", in_reply_to=reply_to,
                               body=f"Hello, question number {n} about my order.\n\nThanks,\nCustomer {n // 3}"))
    # The sending side is another process, as a real MTA would be: it must not share our GIL.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        started, cpu_started = time.perf_counter(), time.process_time()
        pool.apply(_send, (port, inbound or "", mails))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    receiver.stop()
    with db.transaction(read_only=True) as session:
        stored = session.scalar(select(func.count()).select_from(Message).where(Message.channel == "email"))
        conversations = session.scalar(select(func.count()).select_from(Conversation))
    print(f"database: {db.dialect}; {args.messages} mails in {elapsed:.2f} s wall = {args.messages / elapsed:.0f} mails/s; "
          f"receiver CPU {cpu:.2f} s = {args.messages / cpu:.0f} mails per CPU-second; "
          f"stored {stored} messages in {conversations} conversations")
    db.dispose()
    return 0 if stored == args.messages else 1


if __name__ == "__main__":
    sys.exit(main())
