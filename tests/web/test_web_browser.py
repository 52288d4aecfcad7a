"""The web view in a real browser: Playwright drives Debian's chromium (headless, software
WebGL) against one server with a dataset pushed by `embedhub embed --push`. Every page's
console errors are collected and must be none; a screenshot of each page is saved under the
test output folder (test-output/web/, or $EMBEDHUB_TEST_OUTPUT/web/)."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from .helpers import commit_files, create_repo, parquet_bytes, push_embedded, random_rows

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",  # WebGL then runs on SwiftShader, in software
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOPICS = ("cooking pasta and bread", "stars, planets and telescopes", "football matches")
TEXTS = [f"Sentence {i}: a note about {TOPICS[i % 3]}, number {i}" for i in range(60)]
ROWS_PER_PAGE = 20


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is not installed (apt-get install chromium; scripts/test.sh does)")
    profile = tempfile.mkdtemp(prefix="embedhub-chromium-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser) -> Iterator:
    """A tab whose console errors and uncaught exceptions fail the test. Chromium also logs
    an error for a document answered 404; a test that asks for one lists its URL in
    `tab.expected_404s`."""
    tab = browser.new_page()
    tab.expected_404s = []
    errors: list[tuple[str, str]] = []
    tab.on(
        "console",
        lambda m: errors.append((m.text, m.location.get("url", ""))) if m.type == "error" else None,
    )
    tab.on("pageerror", lambda exc: errors.append((str(exc), "")))
    yield tab
    tab.close()
    unexpected = [
        (text, url)
        for text, url in errors
        if not (url in tab.expected_404s and "status of 404" in text)
    ]
    assert unexpected == [], f"JavaScript errors: {unexpected}"


@pytest.fixture(scope="module")
def alice(web_server) -> str:
    return web_server.token("alice")


@pytest.fixture(scope="module")
def dataset(web_server, alice, tmp_path_factory) -> str:
    repo = f"alice/notes-{uuid.uuid4().hex[:6]}"
    rows = [{"text": t, "topic": TOPICS[i % 3].split()[0]} for i, t in enumerate(TEXTS)]
    push_embedded(web_server, alice, repo, rows, tmp_path_factory.mktemp("embed"))
    return repo


def until(tab, expression: str, timeout: float = 60) -> object:
    """Poll a JavaScript expression (page.evaluate, which the page's CSP allows; Playwright's
    wait_for_function would need eval)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = tab.evaluate(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {expression}")


def test_home_lists_the_dataset_and_its_pages_render(web_server, dataset, page, shots_dir):
    page.goto(web_server.url + "/")
    page.screenshot(path=shots_dir / "home.png")
    assert page.locator("#models").inner_text().count("all-MiniLM-L6-v2") == 1
    page.click(f"#repos a[href='/datasets/{dataset}']")
    page.wait_for_url(f"**/datasets/{dataset}")
    assert page.locator("#card .markdown h1").inner_text() == "Embeddings"
    assert "60 rows" in page.locator("#card").inner_text()
    assert page.locator("#card-meta").count() == 1  # the YAML header as a table
    page.screenshot(path=shots_dir / "repo.png", full_page=True)
    for tab, name in (("History", "commits"), ("Files", "tree")):
        page.click(f"nav.tabs >> text={tab}")
        page.wait_for_load_state()
        page.screenshot(path=shots_dir / f"{name}.png", full_page=True)
    page.click("#files a[href$='/README.md']")
    assert "Embeddings" in page.locator("#file-text").inner_text()
    page.screenshot(path=shots_dir / "blob.png")


def test_map_draws_every_point_and_hover_shows_the_text(web_server, dataset, page, shots_dir):
    # `embedhub embed --push` uploads through Xet: the map below reads a Xet-stored file.
    url = web_server.url
    files = requests.get(f"{url}/api/datasets/{dataset}/tree/main/data", timeout=30).json()
    head = requests.head(f"{url}/datasets/{dataset}/resolve/main/{files[0]['path']}", timeout=30)
    assert "X-Xet-Hash" in head.headers
    page.goto(f"{web_server.url}/datasets/{dataset}/map")
    until(page, "window.embedhubMap && window.embedhubMap.ready")
    assert page.evaluate("embedhubMap.count") == len(TEXTS)
    box = page.locator("#map-canvas").bounding_box()
    hovered = None
    for i in (5, 17, 33, 48):  # points can overlap; one of these is under the cursor alone
        x, y = page.evaluate(f"embedhubMap.screenPosition({i})")
        page.mouse.move(box["x"] + x, box["y"] + y)
        time.sleep(0.3)
        if page.evaluate("embedhubMap.hovered") == i:
            hovered = i
            break
    assert hovered is not None, "no point showed its text on hover"
    tip = page.locator("#map-tip")
    assert tip.is_visible() and TEXTS[hovered] in tip.inner_text()
    page.screenshot(path=shots_dir / "map.png")
    # Colour by a column: one legend entry per topic.
    page.select_option("#map-color", "topic")
    assert page.locator("#map-legend span").count() == 3
    assert page.evaluate("embedhubMap.colorBy") == "topic"
    page.screenshot(path=shots_dir / "map-colour.png")
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.move(box["x"] + x, box["y"] + y)
    until(page, f"embedhubMap.hovered === {hovered}", 10)
    # Clicking the hovered point opens its row in the viewer.
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_url(f"**/viewer/**row={hovered}*")


def test_viewer_pages_through_rows(web_server, dataset, page, shots_dir):
    page.goto(f"{web_server.url}/datasets/{dataset}/viewer")
    assert page.locator("#rows tr[id^=row-]").count() == ROWS_PER_PAGE
    assert page.locator("#rows tr[id^=row-]").first.get_attribute("id") == "row-0"
    page.screenshot(path=shots_dir / "viewer.png", full_page=True)
    page.click("#next")
    page.wait_for_load_state()
    first = page.locator("#rows tr[id^=row-]").first
    assert first.get_attribute("id") == f"row-{ROWS_PER_PAGE}"
    assert "…" in page.locator("#rows").inner_text()  # the embedding column, compact


def test_search_shows_the_expected_top_row(web_server, dataset, page, shots_dir):
    page.goto(f"{web_server.url}/datasets/{dataset}/search")
    page.fill("form.searchbox input[name=q]", TEXTS[17])
    # The first query of a dataset may wait for its search index to be read.
    with page.expect_navigation(timeout=180_000):
        page.click("form.searchbox button")
    top = page.locator("#results tr").nth(1)
    assert TEXTS[17] in top.inner_text()
    page.screenshot(path=shots_dir / "search.png", full_page=True)
    # The same search highlights its hits on the map, best first.
    page.goto(f"{web_server.url}/datasets/{dataset}/map")
    until(page, "window.embedhubMap && window.embedhubMap.ready")
    page.fill("#map-search input[name=q]", TEXTS[17])
    page.click("#map-search button")
    assert until(page, "embedhubMap.hits.length && embedhubMap.hits[0] === 17", 60)
    assert "rows highlighted" in page.locator("#map-hits").inner_text()
    page.screenshot(path=shots_dir / "map-search.png")


def test_private_repo_is_invisible_until_signing_in(web_server, alice, browser, page, shots_dir):
    repo = f"alice/private-{uuid.uuid4().hex[:6]}"
    create_repo(web_server, alice, repo, private=True)
    commit_files(
        web_server,
        alice,
        repo,
        {
            "README.md": b"# Private notes\n",
            "data/train.parquet": parquet_bytes(random_rows(30)),
        },
    )
    browser.clear_cookies()
    page.goto(web_server.url + "/")
    assert repo not in page.content()
    page.expected_404s.append(f"{web_server.url}/datasets/{repo}")
    response = page.goto(f"{web_server.url}/datasets/{repo}")
    assert response.status == 404
    page.screenshot(path=shots_dir / "private-anonymous.png")
    page.locator("text=sign in").first.click()
    page.fill("input[name=token]", alice)
    page.click("form.login button")
    page.wait_for_url(f"**/datasets/{repo}")
    assert page.locator("#card h1").inner_text() == "Private notes"
    assert alice not in page.content()
    page.screenshot(path=shots_dir / "private-signed-in.png")
    page.goto(web_server.url + "/")
    assert page.locator(f"#repos a[href='/datasets/{repo}']").count() == 1
    page.click("text=Sign out")
    page.wait_for_url(web_server.url + "/")
    assert repo not in page.content()
