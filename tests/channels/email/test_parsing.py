"""MIME parsing: charsets, HTML-only mail, nested multiparts, inline images, attachments, DSNs."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from cartdesk.channels.email import parsing
from tests.factories.email import make_mail


def test_plain_mail_fields() -> None:
    raw = make_mail(message_id="abc@x.example", in_reply_to="cd.1.aa@shop.example",
                    references=["first@x", "cd.1.aa@shop.example"], to="Support <Support+tok@Shop.example>")
    parsed = parsing.parse(raw)
    assert parsed.message_id == "abc@x.example"
    assert parsed.from_address == "alice@customer.example"
    assert parsed.from_name == "Alice Example"
    assert parsed.recipients == ["support+tok@shop.example"]
    assert parsed.in_reply_to == ["cd.1.aa@shop.example"]
    assert parsed.references == ["first@x", "cd.1.aa@shop.example"]
    assert parsed.text == "Hello, my parcel has not arrived."


@pytest.mark.parametrize("charset", ["iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "utf-8"])
def test_declared_charsets_are_decoded(charset: str) -> None:
    text = {"koi8-r": "Привет, где мой заказ?", "shift_jis": "注文はどこですか"}.get(charset, "Grüße, où est ma commande?")
    raw = (f"From: a@b.example\r\nTo: s@shop.example\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
           f"Message-ID: <c-{charset}@b>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() + text.encode(charset)
    parsed = parsing.parse(raw)
    assert parsed.text == text
    assert parsed.subject == "Grüße"


def test_unknown_or_wrong_charset_falls_back_to_detection() -> None:
    body = "Bonjour, je n'ai pas reçu ma commande numéro 1234. Pouvez-vous vérifier où elle se trouve ?"
    raw = (b"From: a@b.example\r\nTo: s@shop.example\r\nSubject: x\r\nMessage-ID: <w@b>\r\n"
           b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n") + body.encode("utf-8")
    assert parsing.parse(raw).text == body


def test_html_only_mail_gets_a_readable_text() -> None:
    raw = make_mail(body="placeholder")
    msg = EmailMessage()
    msg["From"] = "a@b.example"
    msg["Subject"] = "html"
    msg.set_content("<html><body><h1>Order</h1><p>Hello&nbsp;there,</p><ul><li>one</li><li>two</li></ul>"
                    "<table><tr><td>Size</td><td>M</td></tr></table></body></html>", subtype="html")
    parsed = parsing.parse(msg.as_bytes())
    assert parsed.html is not None
    assert "Hello\xa0there," in parsed.text or "Hello there," in parsed.text
    assert "* one" in parsed.text and "* two" in parsed.text
    assert "Size" in parsed.text and "M" in parsed.text
    assert raw  # the factory still works for plain mail


def test_nested_multipart_with_inline_image_and_attachment() -> None:
    msg = EmailMessage()
    msg["From"] = "Bob <bob@b.example>"
    msg["To"] = "s@shop.example"
    msg["Subject"] = "photo of the damage"
    msg.set_content("See the photo.")
    msg.add_alternative('<p>See the photo.</p><img src="cid:img1@b">', subtype="html")
    msg.get_payload()[1].add_related(b"\x89PNG fake", maintype="image", subtype="png", cid="<img1@b>")
    msg.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
    parsed = parsing.parse(msg.as_bytes())
    assert parsed.text == "See the photo."
    by_name = {a.filename: a for a in parsed.attachments}
    assert by_name["invoice.pdf"].content == b"%PDF-1.4 invoice"
    assert not by_name["invoice.pdf"].inline
    inline = [a for a in parsed.attachments if a.content_id == "img1@b"]
    assert inline and inline[0].inline and inline[0].content == b"\x89PNG fake"


def test_missing_message_id_gets_a_stable_synthetic_one() -> None:
    raw = b"From: a@b.example\r\nSubject: no id\r\n\r\nhello"
    assert parsing.parse(raw).message_id == parsing.parse(raw).message_id
    assert parsing.parse(raw).message_id.endswith("@cartdesk.invalid")


def test_mail_without_sender_is_unparseable() -> None:
    with pytest.raises(parsing.UnparseableEmail):
        parsing.parse(b"Subject: nobody\r\n\r\nhello")


def test_delivery_status_notification_names_the_original() -> None:
    raw = (b"From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\nTo: support@shop.example\r\n"
           b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example>\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
           b"--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
           b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
           b"Final-Recipient: rfc822; gone@customer.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
           b"Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
           b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@shop.example\r\n"
           b"Message-ID: <cd.7.abc@shop.example>\r\nSubject: Re: parcel\r\n\r\n--B--\r\n")
    report = parsing.parse(raw).report
    assert report is not None
    assert report.original_message_id == "cd.7.abc@shop.example"
    assert report.status == "5.1.1" and report.action == "failed"
    assert "User unknown" in report.diagnostic


def _tnef(files: list[tuple[str, bytes]]) -> bytes:
    """A minimal Outlook TNEF stream (MS-OXTNEF): signature, key, then per file the
    attachment-level attributes that start it, name it and carry its bytes."""
    import struct

    def attribute(name: int, kind: int, data: bytes) -> bytes:
        return (struct.pack("<BHHI", 2, name, kind, len(data)) + data
                + struct.pack("<H", sum(data) % 65536))

    out = struct.pack("<IH", 0x223E9F78, 1)
    for filename, content in files:
        out += attribute(0x9002, 0x0006, b"\x01\x00\xff\xff\xff\xff\x0c\x00\x0c\x00\x00\x00\x00\x00")
        out += attribute(0x8010, 0x0001, filename.encode() + b"\x00")
        out += attribute(0x800F, 0x0006, content)
    return out


def test_winmail_dat_is_unpacked_into_its_files() -> None:
    msg = EmailMessage()
    msg["From"] = "outlook.user@corp.example"
    msg["Subject"] = "invoice"
    msg.set_content("See attached.")
    msg.add_attachment(_tnef([("invoice.pdf", b"%PDF-1.7 real invoice"), ("photo.jpg", b"\xff\xd8\xff jpeg")]),
                       maintype="application", subtype="ms-tnef", filename="winmail.dat")
    parsed = parsing.parse(msg.as_bytes())
    assert {(a.filename, a.content) for a in parsed.attachments} == {
        ("invoice.pdf", b"%PDF-1.7 real invoice"), ("photo.jpg", b"\xff\xd8\xff jpeg")}


def test_a_broken_winmail_dat_is_kept_as_it_came() -> None:
    msg = EmailMessage()
    msg["From"] = "outlook.user@corp.example"
    msg.set_content("See attached.")
    msg.add_attachment(b"not tnef at all", maintype="application", subtype="ms-tnef", filename="winmail.dat")
    [attachment] = parsing.parse(msg.as_bytes()).attachments
    assert (attachment.filename, attachment.content) == ("winmail.dat", b"not tnef at all")
