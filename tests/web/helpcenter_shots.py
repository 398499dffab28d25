"""Screenshots of the help center (and the agent's knowledge pages) from the demo store.

    .venv/bin/python -m tests.web.helpcenter_shots            # into /tmp/hc-shots
    .venv/bin/python -m tests.web.helpcenter_shots --docs     # and the README's into docs/screenshots

Not a test: a tool to look at the product after a change to its templates or styles.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from cartdesk.db.engine import Database
from cartdesk.demo import seed as demo_seed
from cartdesk.demo.people import USERS
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, Store, live_server, require_chromium

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
FOR_DOCS = ("helpcenter-home.png", "helpcenter-article.png", "helpcenter-contact.png", "kb-insights.png",
            "conversation-kb-assist.png", "kb-edit.png", "kb-categories.png")
SUPERVISOR = next(u for u in USERS if u.key == "supervisor")


def _demo(db: Database) -> Store:
    demo_seed.seed(db, seed=42, conversations=40)
    return Store(agents={u.name: u.email for u in USERS})


def _returns_form_pdf() -> bytes:
    """A one-page returns form, as a store would offer it."""
    from io import BytesIO

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(60, 780, "Northwind Outfitters - Returns form")
    pdf.setFont("Helvetica", 11)
    for i, line in enumerate(["Order number: ____________", "Item(s): ____________", "Reason: ____________"]):
        pdf.drawString(60, 740 - 28 * i, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _attach_files(page, base: str) -> None:  # type: ignore[no-untyped-def]
    """Attach a PDF form and a size chart to article 1 through the editor, as a writer would."""
    page.goto(base + "/kb/articles/1")
    for name, mime, data in (("returns-form.pdf", "application/pdf", _returns_form_pdf()),
                             ("size-chart.csv", "text/csv", b"size,chest cm,waist cm\nS,88-94,74-80\nM,96-102,82-88\n")):
        page.set_input_files("#kb-files input[type=file]", files=[{"name": name, "mimeType": mime, "buffer": data}])
        page.click("#kb-files button[type=submit]")
        expect(page.locator(f'#kb-files [data-file="{name}"]')).to_be_visible()
    page.locator("#kb-files").scroll_into_view_if_needed()


def take(out: Path) -> list[Path]:
    require_chromium()
    out.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, live_server(Path(tmp), seeder=_demo) as live, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()

        def shot(name: str, full: bool = False) -> None:
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / name), full_page=full)
            shots.append(out / name)

        hc = live.url + "/hc/northwind/en"
        page.goto(hc)
        shot("helpcenter-home.png", full=True)
        page.fill("#hc-q", "where is my parc")
        expect(page.locator("#instant-results .hc-hit").first).to_be_visible()
        shot("helpcenter-instant.png")
        page.goto(hc + "/articles/shipping-options-and-costs")
        shot("helpcenter-article.png", full=True)
        page.goto(live.url + "/hc/northwind/es/articles/where-is-my-parcel")
        shot("helpcenter-article-es.png")
        page.goto(hc + "/contact")
        page.fill("#contact-subject", "I want to send back my boots")
        expect(page.locator("#suggestions .hc-suggest").first).to_be_visible()
        page.locator("#suggestions summary").first.click()
        shot("helpcenter-contact.png")
        page.goto(live.url + "/hc/lumen-loom/nl")
        shot("helpcenter-lumen-nl.png")
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(hc + "/articles/where-is-my-parcel")
        shot("helpcenter-mobile.png")
        page.set_viewport_size({"width": 1280, "height": 860})
        page.goto(live.url + "/login")
        page.fill("input[name=email]", SUPERVISOR.email)
        page.fill("input[name=password]", SUPERVISOR.password)
        page.click("button[type=submit]")
        page.wait_for_url(live.url + "/")
        page.goto(live.url + "/kb/insights")
        shot("kb-insights.png", full=True)
        page.goto(live.url + "/kb/articles")
        shot("kb-articles.png")
        page.goto(live.url + "/kb/articles/1")
        expect(page.locator("#kb-preview p").first).to_be_visible()
        shot("kb-edit.png", full=True)
        _attach_files(page, live.url)
        shot("kb-edit-files.png")
        page.goto(live.url + page.locator(".kb-view-public").get_attribute("href"))
        shot("helpcenter-article-files.png", full=True)
        page.goto(live.url + "/kb/articles/1?lang=de")
        expect(page.locator(".kb-fallback")).to_be_visible()
        shot("kb-edit-fallback.png")
        page.goto(live.url + "/kb/categories")
        shot("kb-categories.png", full=True)
        page.goto(live.url + "/conversations/3")
        expect(page.locator("#kb-assist .kb-assist-item").first).to_be_visible()
        shot("conversation-kb-assist.png")
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/hc-shots"))
    parser.add_argument("--docs", action="store_true", help=f"also copy {', '.join(FOR_DOCS)} to {DOCS}")
    args = parser.parse_args()
    for path in take(args.out):
        print(path)
    if args.docs:
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in FOR_DOCS:
            shutil.copyfile(args.out / name, DOCS / name)


if __name__ == "__main__":
    main()
