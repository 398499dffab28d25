"""Files under articles through the API: upload (streamed, checked), list, delete, and the
public download the help center links to."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.brands.models import Brand
from cartdesk.conversations.models import Attachment
from cartdesk.knowledge.models import ArticleAttachment
from tests.api.conftest import Caller, error_of
from tests.api.test_kb import _article, _section

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def _upload(client, who: Caller, article_id: int, name: str, data: bytes, kind: str = "application/octet-stream"):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/kb/articles/{article_id}/attachments", headers=who.headers,
                       files={"file": (name, data, kind)})


def test_a_pdf_is_attached_listed_downloaded_and_removed(
        client, brand: Brand, supervisor: Caller, agent: Caller) -> None:  # type: ignore[no-untyped-def]
    article = _article(client, supervisor, _section(client, supervisor, brand))
    created = _upload(client, supervisor, article["id"], "Returns form.pdf", PDF, "text/html")  # the claim is ignored
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["label"], body["content_type"], body["size"]) == ("pdf", "PDF", "application/pdf", len(PDF))
    assert body["url"] == f"/hc/{brand.slug}/files/{body['id']}/Returns%20form.pdf"
    listed = client.get(f"/api/v1/kb/articles/{article['id']}/attachments", headers=agent.headers)
    assert listed.status_code == 200 and [f["filename"] for f in listed.json()] == ["Returns form.pdf"]
    download = client.get(body["url"])  # a visitor, no token
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]
    assert client.delete(f"/api/v1/kb/articles/{article['id']}/attachments/{body['id']}",
                         headers=agent.headers).status_code == 403
    gone = client.delete(f"/api/v1/kb/articles/{article['id']}/attachments/{body['id']}", headers=supervisor.headers)
    assert gone.status_code == 204
    assert client.get(body["url"]).status_code == 404
    assert client.get(f"/api/v1/kb/articles/{article['id']}/attachments", headers=agent.headers).json() == []


def test_wrong_kinds_large_files_and_agents_are_refused_with_nothing_kept(
        client, session: Session, settings, brand: Brand, supervisor: Caller, agent: Caller) -> None:  # type: ignore[no-untyped-def]
    article = _article(client, supervisor, _section(client, supervisor, brand))
    before = session.scalar(select(func.count()).select_from(Attachment))
    fake = _upload(client, supervisor, article["id"], "invoice.pdf", b"<html><script>alert(1)</script>")
    assert fake.status_code == 422 and error_of(fake)["details"][0]["field"] == "file"
    html = _upload(client, supervisor, article["id"], "page.html", b"<html></html>", "text/html")
    assert html.status_code == 422
    settings.kb_attachment_max_bytes = 32
    big = _upload(client, supervisor, article["id"], "big.pdf", PDF + b"\0" * 64)
    assert big.status_code == 413 and error_of(big)["details"]["max_bytes"] == 32
    settings.kb_attachment_max_bytes = 20 * 1024 * 1024
    denied = _upload(client, agent, article["id"], "a.pdf", PDF)
    assert denied.status_code == 403 and error_of(denied)["code"] == "forbidden"
    missing = _upload(client, supervisor, 999_999, "a.pdf", PDF)
    assert missing.status_code == 404
    assert session.scalar(select(func.count()).select_from(ArticleAttachment)) == 0
    assert session.scalar(select(func.count()).select_from(Attachment)) == before


def test_a_draft_articles_files_are_not_public(client, brand: Brand, supervisor: Caller) -> None:  # type: ignore[no-untyped-def]
    article = _article(client, supervisor, _section(client, supervisor, brand), status="draft")
    created = _upload(client, supervisor, article["id"], "draft.txt", "Entwurf – nicht öffentlich".encode())
    assert created.status_code == 201 and created.json()["content_type"].startswith("text/plain")
    assert client.get(created.json()["url"]).status_code == 404
