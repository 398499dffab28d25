"""Files under articles in the agent editor (attach, list, remove) and on the public
article page (listed for download, in every language)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.brands.models import Brand
from cartdesk.knowledge import files
from cartdesk.knowledge.models import Article
from tests.factories.knowledge import make_article, make_section, make_writer
from tests.web.conftest import HX, PAGE, login

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
XLSX = b"PK\x03\x04" + b"\0" * 26 + b"xl/workbook.xml"


@pytest.fixture
def article(session: Session, brand: Brand) -> Article:
    section = make_section(session, brand=brand, name="Returns")
    return make_article(session, writer=make_writer(session), section=section, title="Send a parcel back",
                        body="Print the **returns form** and put it in the parcel.")


def _attach(client, token: str, article: Article, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.post(f"/kb/articles/{article.id}/files", headers={**HX, "X-CSRF-Token": token},
                       files={"file": (name, data, "application/octet-stream")})


def test_a_writer_attaches_and_removes_files_in_the_editor(
        client, session: Session, supervisor: User, article: Article) -> None:  # type: ignore[no-untyped-def]
    token = login(client, supervisor)
    page = client.get(f"/kb/articles/{article.id}", headers=PAGE).text
    assert 'id="kb-files"' in page and "No files yet." in page and 'accept=".pdf,' in page
    added = _attach(client, token, article, "returns-form.pdf", PDF)
    assert added.status_code == 200, added.text
    assert 'data-file="returns-form.pdf"' in added.text and "File added." in added.text
    assert _attach(client, token, article, "sizes.xlsx", XLSX).status_code == 200
    refused = _attach(client, token, article, "form.pdf", b"MZ\x90\x00 not a pdf")
    assert refused.status_code == 422
    page = client.get(f"/kb/articles/{article.id}", headers=PAGE).text
    assert page.index('data-file="returns-form.pdf"') < page.index('data-file="sizes.xlsx"')
    link = next(link for link, a in files.list_for(session, article_id=article.id) if a.filename == "sizes.xlsx")
    download = client.get(f"/kb/articles/{article.id}/files/{link.id}")
    assert download.status_code == 200 and download.content == XLSX
    assert download.headers["content-disposition"].startswith("attachment;")
    removed = client.post(f"/kb/articles/{article.id}/files/{link.id}/delete", headers={**HX, "X-CSRF-Token": token})
    assert removed.status_code == 200 and "sizes.xlsx" not in removed.text and "returns-form.pdf" in removed.text


def test_agents_see_the_files_but_cannot_change_them(
        client, session: Session, supervisor: User, agent: User, article: Article) -> None:  # type: ignore[no-untyped-def]
    token = login(client, supervisor)
    _attach(client, token, article, "returns-form.pdf", PDF)
    client.cookies.clear()
    token = login(client, agent)
    page = client.get(f"/kb/articles/{article.id}", headers=PAGE).text
    assert 'data-file="returns-form.pdf"' in page and "Remove" not in page and 'name="file"' not in page
    assert _attach(client, token, article, "other.pdf", PDF).status_code == 403


def test_the_article_page_lists_files_for_download(
        client, session: Session, brand: Brand, supervisor: User, article: Article) -> None:  # type: ignore[no-untyped-def]
    token = login(client, supervisor)
    _attach(client, token, article, "Returns form.pdf", PDF)
    client.cookies.clear()  # a visitor
    html = client.get(f"/hc/{brand.slug}/en/articles/{article.slug}", headers=PAGE).text
    assert 'class="hc-files"' in html and "Downloads" in html and "PDF · " in html
    href = re.search(r'class="hc-file" href="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert href.startswith(f"/hc/{brand.slug}/files/") and href.endswith("/Returns%20form.pdf")
    served = client.get(href)
    assert served.status_code == 200 and served.content == PDF
    assert "Descargas" in client.get(f"/hc/{brand.slug}/es/articles/{article.slug}", headers=PAGE).text


def test_an_article_without_files_shows_no_downloads(client, brand: Brand, article: Article) -> None:  # type: ignore[no-untyped-def]
    html = client.get(f"/hc/{brand.slug}/en/articles/{article.slug}", headers=PAGE).text
    assert "hc-files" not in html
