"""Files under articles: what is accepted (name and bytes must agree), limits, events, and
that visitors reach a file exactly while its article is published and public."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.models import Role
from cartdesk.auth.schemas import Principal
from cartdesk.brands.models import Brand
from cartdesk.events.models import Event
from cartdesk.kit.errors import Forbidden, NotFound, ValidationFailed
from cartdesk.kit.storage import LocalStore, StagingFile
from cartdesk.knowledge import files
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, ArticleStatus, Category
from cartdesk.knowledge.schemas import ArticleUpdate
from tests.factories.auth import make_user, principal
from tests.factories.knowledge import make_article

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
DOCX = b"PK\x03\x04" + b"\x14\x00" * 20 + b"[Content_Types].xml"


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "attachments")


@pytest.fixture
def article(session: Session, writer: Principal, section: Category) -> Article:
    return make_article(session, writer=writer, section=section, title="Returns form",
                        body="Print the form and put it in the parcel.")


def _add(session: Session, store: LocalStore, writer: Principal, article: Article, name: str, data: bytes):  # type: ignore[no-untyped-def]
    with StagingFile(store.staging_dir, max_bytes=1 << 20) as staging:
        staging.write(data)
        staged = staging.finish()
    return files.add(session, store=store, principal=writer, article=article, staged=staged, filename=name)


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("returns-form.pdf", PDF, "pdf"),
    ("Size chart.DOCX", DOCX, "docx"),
    ("labels.zip", b"PK\x05\x06" + b"\0" * 18, "zip"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 40, "xls"),
    ("sizes.csv", "size,chest\nS,88\nM,96 – 100\n".encode(), "csv"),
    ("read me.txt", "Grüße aus Köln".encode(), "txt"),
])
def test_a_file_is_accepted_when_its_name_and_bytes_agree(name: str, data: bytes, kind: str) -> None:
    assert files.check_kind(name, data, complete=True) == kind


@pytest.mark.parametrize(("name", "data"), [
    ("invoice.pdf", b"<html><script>alert(1)</script></html>"),  # not a PDF inside
    ("page.html", b"<html></html>"),  # a kind we never serve
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
    ("notes.txt", b"MZ\x90\x00\x03\x00\x00\x00"),  # a program called .txt
    ("notes.txt", b"\xff\xfe\x00h\x00i"),  # not UTF-8
    ("setup.exe", b"MZ\x90\x00"),
    ("noextension", PDF),
])
def test_anything_else_is_refused(name: str, data: bytes) -> None:
    with pytest.raises(ValidationFailed):
        files.check_kind(name, data, complete=True)


def test_a_utf8_character_cut_at_the_end_of_the_checked_head_is_still_text() -> None:
    head = ("ü" * 10).encode()[:-1]
    assert files.check_kind("a.txt", head, complete=False) == "txt"
    with pytest.raises(ValidationFailed):
        files.check_kind("a.txt", head, complete=True)


def test_added_files_are_listed_in_order_recorded_and_removed(
        session: Session, store: LocalStore, writer: Principal, article: Article) -> None:
    form, _ = _add(session, store, writer, article, "returns-form.pdf", PDF)
    chart, attachment = _add(session, store, writer, article, "size-chart.docx", DOCX)
    assert attachment.content_type == files.KINDS["docx"].content_type and attachment.size == len(DOCX)
    assert b"".join(store.open(attachment.storage_key)) == DOCX
    listed = files.describe(files.list_for(session, article_id=article.id))
    assert [(f["filename"], f["label"]) for f in listed] == [("returns-form.pdf", "PDF"), ("size-chart.docx", "Word")]
    files.remove(session, principal=writer, article=article, file_id=form.id)
    assert [link.id for link, _ in files.list_for(session, article_id=article.id)] == [chart.id]
    verbs = session.scalars(select(Event.verb).where(Event.subject_type == "kb_article", Event.subject_id == article.id,
                                                     Event.verb.like("kb.attachment.%")).order_by(Event.id)).all()
    assert verbs == ["kb.attachment.added", "kb.attachment.added", "kb.attachment.removed"]
    with pytest.raises(NotFound):
        files.remove(session, principal=writer, article=article, file_id=form.id)


def test_only_writers_add_files_and_an_article_holds_at_most_twenty(
        session: Session, store: LocalStore, writer: Principal, article: Article, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    agent = principal(make_user(session, role=Role.agent))
    with pytest.raises(Forbidden):
        _add(session, store, agent, article, "a.pdf", PDF)
    monkeypatch.setattr(files, "MAX_PER_ARTICLE", 2)
    _add(session, store, writer, article, "a.pdf", PDF)
    _add(session, store, writer, article, "b.pdf", PDF)
    with pytest.raises(ValidationFailed, match="at most 2 files"):
        _add(session, store, writer, article, "c.pdf", PDF)


def test_visitors_reach_a_file_only_while_its_article_is_published_and_public(
        session: Session, store: LocalStore, writer: Principal, article: Article, brand: Brand) -> None:
    link, _ = _add(session, store, writer, article, "returns-form.pdf", PDF)
    assert files.get_public(session, brand_id=brand.id, file_id=link.id)[0].id == link.id
    with pytest.raises(NotFound):
        files.get_public(session, brand_id=brand.id + 1000, file_id=link.id)  # another brand's help center
    kb_service.update_article(session, principal=writer, article=article,
                              article_in=ArticleUpdate(status=ArticleStatus.draft))
    with pytest.raises(NotFound):
        files.get_public(session, brand_id=brand.id, file_id=link.id)
    kb_service.update_article(session, principal=writer, article=article,
                              article_in=ArticleUpdate(status=ArticleStatus.published, visibility="internal"))
    with pytest.raises(NotFound):
        files.get_public(session, brand_id=brand.id, file_id=link.id)
