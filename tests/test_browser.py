"""End to end in a real browser: the app is started with `streamlit run` on
a small real index, Debian's headless Chromium (driven by Playwright) asks
"Vad rapporterades om SIP?" in Fråga mode, follows a citation to the cited
place (the passage marked on its page) and on to the cited page of the right
file. Skipped only when Chromium or Playwright is missing."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest

from conftest import free_port, streamlit_server

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
SIP = "Vad rapporterades om SIP?"
STEP_TIMEOUT_MS = 90_000

if not CHROMIUM.exists():
    pytest.skip("Chromium saknas (/usr/bin/chromium); installera Debian-paketet chromium", allow_module_level=True)
try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:
    pytest.skip("Playwright saknas; installera med  pip install playwright", allow_module_level=True)


@pytest.fixture(scope="module")
def server(real_index, tmp_path_factory):
    """`streamlit run app.py` on a free port, stopped (and killed if need be) afterwards."""
    index_dir, _ = real_index
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    env = {**os.environ, "SOK_INDEX": str(index_dir)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    with streamlit_server(cmd, port, log, ROOT, env) as url:
        yield url, index_dir


@pytest.fixture
def page(tmp_path):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS, timeout=60_000)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="sv-SE")
        context.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def _file_row(index_dir: Path, file_id: int) -> tuple[str, str]:
    with sqlite3.connect(index_dir / "sok.sqlite") as db:
        return db.execute("SELECT relpath, kind FROM files WHERE id=?", (file_id,)).fetchone()


def test_ask_and_follow_a_citation(server, page: Page, tmp_path):
    url, index_dir = server
    page.goto(url)
    box = page.get_by_placeholder("Till exempel: Vad rapporterades om SIP?")
    box.fill(SIP)
    box.press("Enter")
    page.get_by_test_id("stRadioOption").filter(has_text=re.compile(r"^Fråga$")).click()

    cite = page.locator(".sok-answer a.sok-cite").first
    expect(cite).to_be_visible()
    expect(page.locator(".sok-answer")).to_contain_text("SIP")
    page.wait_for_url(lambda u: "lage=fraga" in u)
    query = parse_qs(urlparse(page.url).query)
    assert query == {"q": [SIP], "lage": ["fraga"]}  # the link reproduces the question
    page.screenshot(path=str(tmp_path / "fraga.png"), full_page=True)

    href = cite.get_attribute("href")
    m = re.fullmatch(r"/fil/(\d+)/stalle/(\d+)#page=(\d+)", href)
    assert m, href
    file_id, cited_page = int(m.group(1)), int(m.group(3))
    with page.context.expect_page() as opened:
        cite.click()
    place = opened.value
    place.wait_for_load_state()
    relpath, kind = _file_row(index_dir, file_id)
    assert relpath.endswith("2023_aterrapportering_beredning_for_nara_vard.md") and kind == "md"
    cited = place.locator(f'section[data-page="{cited_page}"]')
    expect(cited.locator("mark").first).to_contain_text("SIP")  # the place, marked
    expect(cited.locator(f'mark[id="page={cited_page}"]')).to_be_in_viewport()  # and scrolled to
    assert cited.locator(".sok-doc strong, .sok-doc h2, .sok-doc h3").count() > 0  # rendered as a document
    assert "**" not in cited.inner_text()  # not as markup
    place.screenshot(path=str(tmp_path / "stalle.png"))

    place.get_by_role("link", name="Öppna hela originalet").click()  # on to the whole file, at the cited page
    place.wait_for_url(lambda u: u.endswith(f"/fil/{file_id}#page={cited_page}"))
    expect(place.locator(f'section[id="page={cited_page}"]')).to_contain_text("SIP")
    assert place.evaluate("location.hash") == f"#page={cited_page}"
    assert (tmp_path / "fraga.png").stat().st_size > 10_000


def test_open_pdf_page(server, page: Page):
    url, index_dir = server
    page.goto(f"{url}/?q=Fisks%C3%A4traskolan+nedl%C3%A4ggning")
    link = page.locator(".sok-card a.sok-open[href*='/fil/']").filter(has_text="Öppna sidan").first
    expect(link).to_be_visible()
    links = page.locator(".sok-card a.sok-open").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    pdfs = [h for h in links if _file_row(index_dir, int(h.split("/fil/")[1].split("/")[0]))[1] == "pdf"]
    assert pdfs, links
    page.goto(url + pdfs[0])  # the cited place: the PDF page drawn, the passage marked
    expect(page.locator("img[id^='page=']")).to_be_visible()
    expect(page.get_by_role("note")).to_contain_text("markerat")
    href = page.get_by_role("link", name="Öppna hela originalet").get_attribute("href")
    assert "#page=" in href
    response = page.request.get(url + href.split("#")[0])
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    with sqlite3.connect(index_dir / "sok.sqlite") as db:
        (path,) = db.execute("SELECT path FROM files WHERE id=?", (int(href.split("/fil/")[1].split("#")[0]),)).fetchone()
    assert response.body() == Path(path).read_bytes()  # the original, byte for byte
    assert page.request.get(f"{url}/fil/999999").status == 404


def test_markdown_from_the_url_renders_as_plain_text(server, page: Page):
    """The case view echoes the case number from the URL: an image that
    would call home and a foreign link must show as the characters typed."""
    url, _ = server
    image, link = "![x](http://127.0.0.1:9/track.png)", "[Logga in här](http://evil.example/login)"
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{url}/?vy=arende&arende={quote(image + ' ' + link)}")
    notice = page.locator(".sok-notice").filter(has_text="Inget i indexet nämner ärendet")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(image)  # the characters themselves, not an image
    expect(notice).to_contain_text(link)
    assert notice.locator("img").count() == 0 and notice.locator("a").count() == 0
    assert page.locator("a[href*='evil.example']").count() == 0
    assert not [u for u in requested if urlparse(u).netloc in ("127.0.0.1:9", "evil.example")]  # nothing fetched


def test_a_members_page_from_a_search_and_on_to_the_cited_place(server, page: Page):
    """Filter a search by member (the sidebar's Ledamot), see the § 's status
    on the card, open the member's page and follow a row to the place."""
    url, index_dir = server
    page.goto(f"{url}/?q=Fisks%C3%A4traskolan+nedl%C3%A4ggning&ledamot=Mats+Gerdau")
    status = page.locator(".sok-card .sok-status").first
    expect(status).to_contain_text("Status för § 135: bordlagt")
    page.goto(f"{url}/?vy=ledamot&ledamot=Mats+Gerdau")
    row = page.locator(".sok-table tr").filter(has_text="Yrkande (bordläggning)").first
    expect(row).to_contain_text("§ 135")
    href = row.locator("a.sok-open").get_attribute("href")
    assert re.fullmatch(r"/fil/\d+/stalle/\d+#page=\d+", href), href
    page.goto(url + href)
    expect(page.locator("mark, img[id^='page=']").first).to_be_visible()


def test_the_less_relevant_hits_open_behind_their_expander(server, page: Page):
    """The list holds the hits that clear the cut-off; the rest wait behind
    "Visa fler, mindre relevanta" and are marked weak once opened."""
    url, _ = server
    page.goto(f"{url}/?q=Fisks%C3%A4traskolan+nedl%C3%A4ggning")
    expect(page.locator(".sok-card").first).to_be_visible()
    relevant = page.locator(".sok-card").filter(has_not=page.locator(".sok-weak")).count()
    toggle = page.get_by_text(re.compile(r"^Visa fler, mindre relevanta \(\d+\)$"))
    expect(toggle).to_be_visible()
    hidden = int(re.search(r"\((\d+)\)", toggle.inner_text()).group(1))
    toggle.click()
    weak = page.locator(".sok-card").filter(has=page.locator(".sok-weak", has_text="svag träff"))
    expect(weak.first).to_be_visible()
    assert weak.count() == min(hidden, 20) and relevant >= 1


def test_the_feed_route_serves_atom(server, page: Page):
    """/flode.atom from the app's own server: well-formed Atom (no watch here:
    an empty feed), and an unknown watch is a 404 naming it."""
    feedparser = pytest.importorskip("feedparser", reason="feedparser saknas")
    url, _ = server
    response = page.request.get(f"{url}/flode.atom")
    assert response.status == 200 and response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.body())
    assert not feed.bozo and feed.version == "atom10" and feed.feed.title == "sok – alla bevakningar"
    missing = page.request.get(f"{url}/flode/ingen.atom")
    assert missing.status == 404 and "ingen bevakning heter 'ingen'" in missing.text()
