"""Images for articles: uploaded by writers into the attachment store (type by bytes, size
cap), answered with Markdown to insert, served publicly under the brand's help center."""

from __future__ import annotations

import base64
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.models import User
from cartdesk.brands.models import Brand
from cartdesk.knowledge import content
from cartdesk.knowledge.models import ArticleImage
from tests.factories.conversations import make_brand
from tests.web.conftest import HX, login

# A real 1×1 PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _upload(client, token: str, brand: Brand, name: str, data: bytes, kind: str = "image/png"):  # type: ignore[no-untyped-def]
    return client.post("/kb/articles/images", headers={**HX, "X-CSRF-Token": token},
                       data={"brand_id": str(brand.id)}, files={"file": (name, data, kind)})


def test_an_uploaded_image_gives_markdown_and_is_served_publicly(
        client, session: Session, brand: Brand, supervisor: User) -> None:  # type: ignore[no-untyped-def]
    token = login(client, supervisor)
    answer = _upload(client, token, brand, "label sample.png", PNG)
    assert answer.status_code == 200, answer.text
    markdown = re.search(r"!\[[^\]]*\]\((/hc/[^)]+)\)", answer.text.replace("&#34;", '"'))
    assert markdown and markdown.group(1).startswith(f"/hc/{brand.slug}/images/")
    client.cookies.clear()  # a visitor, not signed in
    served = client.get(markdown.group(1))
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png" and served.headers["x-content-type-options"] == "nosniff"
    html = content.render_markdown(f"![label]({markdown.group(1)})")
    assert f'<img src="{markdown.group(1)}" alt="label">' in html
    other = make_brand(session, name="Other", slug="other-brand")
    assert client.get(markdown.group(1).replace(f"/hc/{brand.slug}/", f"/hc/{other.slug}/")).status_code == 404


def test_what_is_not_an_image_or_too_large_is_refused(
        client, session: Session, settings, brand: Brand, supervisor: User, agent: User) -> None:  # type: ignore[no-untyped-def]
    token = login(client, supervisor)
    svg = _upload(client, token, brand, "logo.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>')
    assert svg.status_code == 422 and "Only PNG, JPEG, GIF and WebP" in svg.headers.get("x-message", "") + svg.text
    settings.kb_image_max_bytes = 40
    big = _upload(client, token, brand, "big.png", PNG + b"\0" * 100)
    assert big.status_code == 413
    settings.kb_image_max_bytes = 5 * 1024 * 1024
    client.cookies.clear()
    token = login(client, agent)
    assert _upload(client, token, brand, "a.png", PNG).status_code == 403
    assert session.scalar(select(func.count()).select_from(ArticleImage)) == 0
