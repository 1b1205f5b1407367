"""The chat UI in a real browser: Debian's Chromium driven by Playwright, against `rag serve`.

The server is a real `rag serve` process (UI and HTTP API on one port) over a fresh index built
from seeds/ on first start, answering with the real GGUF model.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest
from playwright.sync_api import expect, sync_playwright

from rag.settings import PROJECT_ROOT
from tests.webserver import Site

pytestmark = [pytest.mark.browser, pytest.mark.model]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ANSWER_TIMEOUT_MS = 180_000
ENVOY = "Which US special envoy attended the talks at the Elysee Palace?"
SCREENSHOT = PROJECT_ROOT / "eval" / "ui_answer.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    index = tmp_path_factory.mktemp("ui") / "index"
    port = _free_port()
    log = open(index.parent / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port),
                             "--index", str(index)], stdout=log, stderr=subprocess.STDOUT,
                            # the pages the tests serve are on 127.0.0.1
                            env={**os.environ, "PYTHONUNBUFFERED": "1",
                                 "RAG_ALLOW_PRIVATE_URLS": "1"})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"rag serve exited: {(index.parent / 'server.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail("rag serve did not start in 5 minutes")
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run scripts/setup.sh --test")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


def _open(browser, url):
    context = browser.new_context(viewport={"width": 1200, "height": 1400}, accept_downloads=True)
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#question textarea").wait_for(timeout=60_000)
    return page


def _ask(page, question: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")


def _last_answer(page):
    """The last bot message once its sources (or its abstention) have rendered."""
    page.wait_for_function(
        """() => { const msgs = document.querySelectorAll('#chat .rag-answer, #chat .rag-abstained');
                   return msgs.length > 0 && !document.querySelector('#chat').innerText.includes('▍'); }""",
        timeout=ANSWER_TIMEOUT_MS)
    return page.locator("#chat .rag-answer, #chat .rag-abstained").last


def test_seed_answer_streams_with_sources_and_the_api_gives_the_same(server, browser):
    page = _open(browser, server)
    _ask(page, ENVOY)
    page.wait_for_selector("#chat .rag-found .rag-source", timeout=ANSWER_TIMEOUT_MS)
    assert page.locator("#chat .rag-answer").count() == 0  # the passages come before the answer
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('▍')",
                           timeout=ANSWER_TIMEOUT_MS)  # partial text with the cursor: streaming
    assert page.locator("#chat .rag-found .rag-source").count() >= 1  # still beside the stream
    answer = _last_answer(page)
    assert "Witkoff" in answer.inner_text()
    cite = page.locator("#chat a.rag-cite").first
    n = cite.inner_text().strip("[]")
    source = page.locator(f"#chat .rag-source[id$='-{n}']")
    assert "Witkoff" in source.locator("mark.rag-support").inner_text()
    cite.click()
    copy_text = page.locator("#answer-text textarea").input_value()
    assert "Sources:" in copy_text and "Witkoff" in copy_text
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # the source opens whole, scrolled to its passage, which is highlighted
    passage = " ".join(source.locator(".rag-passage").inner_text().split())
    source.locator("a.rag-read").click()
    cited = page.locator("#article-view mark.rag-cited").first
    expect(cited).to_be_in_viewport(timeout=30_000)
    shown = " ".join(page.locator("#article-view mark.rag-cited").all_inner_texts())
    assert " ".join(shown.split()) == passage
    assert source.locator("strong").inner_text().split("] ", 1)[1] in page.locator(
        "#article-view h3").inner_text()
    page.locator("#article-close").click()
    expect(page.locator("#article-view")).to_have_count(0)

    # the conversation downloads as Markdown with the question and its cited source
    with page.expect_download() as download:
        page.locator("#export-md").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert ENVOY in exported and "Witkoff" in exported
    assert f"- \\[{n}\\] **" in exported
    page.context.close()

    # the same server's API gives the same checked answer to curl and to the openai client
    in_ui = copy_text.split("\n\nSources:")[0]
    request = {"model": "rag", "messages": [{"role": "user", "content": ENVOY}]}
    curl = subprocess.run(["curl", "-sS", "--fail-with-body", f"{server}v1/chat/completions",
                           "-H", "Content-Type: application/json", "-d", json.dumps(request)],
                          capture_output=True, text=True, timeout=300)
    assert curl.returncode == 0, curl.stdout + curl.stderr
    assert json.loads(curl.stdout)["choices"][0]["message"]["content"] == in_ui
    client = openai.OpenAI(base_url=f"{server}v1", api_key="unused", max_retries=0, timeout=300)
    assert client.chat.completions.create(**request).choices[0].message.content == in_ui


def _upload(page, path: Path) -> str:
    page.get_by_role("tab", name="Articles").click()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.locator("#add").click()
    status = page.locator("#corpus-status")
    page.wait_for_function("() => /added|Not added/.test(document.querySelector('#corpus-status').innerText)",
                           timeout=ANSWER_TIMEOUT_MS)
    text = status.inner_text()
    page.get_by_role("tab", name="Chat").click()
    return text


def test_uploaded_article_answers_the_next_question(server, browser, tmp_path):
    article = tmp_path / "zorblat bridge (draft).md"
    article.write_text("# Quellmar bridge works\n\nCity engineers painted the Zorblat bridge in "
                       "Quellmar teal in October 2025, the city engineer Ilsa Varn said. The work "
                       "took three weeks.\n")
    page = _open(browser, server)
    status = _upload(page, article)
    assert "1 added" in status
    page.get_by_role("tab", name="Articles").click()
    # the table re-renders when its tab is shown again; a web-first assertion waits for that
    expect(page.locator("#articles")).to_contain_text("Quellmar bridge works", timeout=15_000)
    page.get_by_role("tab", name="Chat").click()
    _ask(page, "Which colour did city engineers paint the Zorblat bridge?")
    answer = _last_answer(page)
    assert "teal" in answer.inner_text().lower()
    assert "Quellmar bridge works" in page.locator("#chat .rag-source").last.inner_text()
    page.context.close()


def test_untrusted_article_renders_as_inert_text(server, browser, tmp_path):
    tracker = f"http://127.0.0.1:{_free_port()}/pixel.png"
    article = tmp_path / "ferry.txt"
    article.write_text(
        " date 2025-10-06 The Quillon ferry leaves Pier 9 every morning at 7:15, the harbour office "
        "said. <script>alert('script ran')</script> <img src=x onerror=\"alert('img ran')\"> "
        f"![tracker]({tracker}) The ferry carries up to 80 passengers.\n")
    page = _open(browser, server)
    dialogs, requests = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    assert "1 added" in _upload(page, article)
    _ask(page, "When does the Quillon ferry leave Pier 9? <img src=y onerror=\"alert('question ran')\">")
    _last_answer(page)
    chat_text = page.locator("#chat").inner_text()
    assert "<img src=y" in chat_text  # the user's own markup is shown as text
    sources = page.locator("#chat .rag-source")
    if sources.count():
        shown = sources.last.inner_text()
        assert "<script>alert('script ran')</script>" in shown
        assert "![tracker](" in shown
    page.wait_for_timeout(1000)
    assert dialogs == []
    assert not [u for u in requests if "pixel.png" in u or u.endswith("/x") or u.endswith("/y")]
    assert page.locator("#chat script, #chat img[src='x'], #chat img[src='y']").count() == 0
    page.context.close()


def test_two_sessions_and_an_api_client_each_get_their_own_answer(server, browser):
    first, second = _open(browser, server), _open(browser, server)
    client = openai.OpenAI(base_url=f"{server}v1", api_key="unused", max_retries=0, timeout=300)
    with ThreadPoolExecutor(1) as pool:
        _ask(first, "Who is the editor of the Vatfor project?")
        via_api = pool.submit(client.chat.completions.create, model="rag", messages=[
            {"role": "user", "content": "Where did Trump hold his August summit with Putin?"}])
        _ask(second, ENVOY)
        # while the first answer is generated, the second session sees its place in Gradio's queue
        second.wait_for_function("() => /queue/i.test(document.body.innerText)", timeout=60_000)
        a = _last_answer(first).inner_text()
        b = _last_answer(second).inner_text()
        c = via_api.result().choices[0].message.content
    assert "Poletaev" in a and "Witkoff" not in a
    assert "Witkoff" in b and "Poletaev" not in b
    assert "Alaska" in c and "Poletaev" not in c and "Witkoff" not in c
    first.context.close()
    second.context.close()


def test_a_web_page_added_by_url_is_listed(server, browser):
    with Site() as site:
        site.route("/lighthouse", "<html><head><title>Brannoch lighthouse relit</title></head><body>"
                   "<article><h1>Brannoch lighthouse relit</h1><p>The Brannoch lighthouse was "
                   "relit on 3 October 2025 after a year of repairs, the coast guard said. Its lamp "
                   "now reaches 22 nautical miles.</p></article></body></html>")
        page = _open(browser, server)
        page.get_by_role("tab", name="Articles").click()
        page.locator("#add-url textarea").fill(site.url("/lighthouse"))
        page.locator("#add-url-button").click()
        expect(page.locator("#corpus-status")).to_contain_text("1 added", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#articles")).to_contain_text("Brannoch lighthouse relit")
    expect(page.locator("#feeds")).to_contain_text("Feeds last refreshed: never")
    page.context.close()
