"""News as people get it, answered with the real model: a feed's linked page cited by its URL,
a PDF cited with its page."""

import json

import pytest
from fpdf import FPDF

from rag.answer.assistant import Assistant
from rag.cli import main
from rag.ingest.indexer import ingest
from rag.ingest.by_url import ingest_urls

pytestmark = pytest.mark.model

PAGE = """<html><head><title>Harbour board picks a new pilot boat</title>
<link rel="canonical" href="{canonical}">
<meta name="author" content="Ines Marlow">
<meta property="article:published_time" content="2025-10-14T09:00:00Z"></head>
<body><nav>Home | World | Sign in</nav><article><h1>Harbour board picks a new pilot boat</h1>
<p>The Valmora harbour board chose the shipyard Brandt &amp; Sons to build its new pilot boat,
the board's chair said on Tuesday.</p>
<p>The boat will cost 3.2 million crowns and is due to enter service in May 2027, replacing a
vessel that has guided ships into the harbour since 1989.</p>
<p>Two other yards had bid for the contract, according to the board's published minutes.</p>
</article><footer>© 2025 Valmora Daily. All rights reserved.</footer></body></html>"""

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Valmora Daily</title>
<link>{home}</link><description>News from Valmora</description>
<item><title>Harbour board picks a new pilot boat</title><link>{story}</link>
<pubDate>Tue, 14 Oct 2025 09:00:00 GMT</pubDate><guid>{story}</guid></item>
</channel></rss>"""


def test_a_feed_entry_is_answered_and_cited_by_its_page_url(site, settings, embedder, assistant):
    story = site.url("/2025/10/pilot-boat")
    site.route("/2025/10/pilot-boat", PAGE.format(canonical=story))
    site.route("/feed.xml", FEED.format(home=site.url("/"), story=story),
               headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'})
    report = ingest_urls([site.url("/feed.xml")], settings, embedder, allow_private=True)
    assert len(report.added) == 1

    mine = Assistant(settings, embedder=embedder, generator=assistant.generator)
    record = mine.ask("Which shipyard will build the new pilot boat in Valmora?")
    assert not record.abstained and "Brandt" in record.answer
    cited = {c.n for c in record.citations}
    assert cited and all(p.url == story for p in record.passages if p.n in cited)


def _report_pdf(path) -> None:
    pdf = FPDF()
    pdf.set_title("Annual report of the Valmora water authority")
    pdf.set_font("Helvetica", size=12)
    pages = [
        "The Valmora water authority served 84,000 households in 2024. Its board met six times "
        "during the year and approved the budget in March.",
        "Leaks were the year's main problem. The authority replaced 41 kilometres of old mains "
        "in the northern district, which cut water losses by a fifth.",
        "Prices will rise by 3 percent in 2025 to pay for a new treatment plant, the board "
        "decided in its November meeting.",
    ]
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    pdf.output(str(path))


def test_a_pdf_answer_cites_the_page_it_comes_from(tmp_path, settings, embedder, assistant,
                                                   capsys):
    folder = tmp_path / "reports"
    folder.mkdir()
    _report_pdf(folder / "water_report.pdf")
    ingest([folder], settings, embedder)

    mine = Assistant(settings, embedder=embedder, generator=assistant.generator)
    record = mine.ask("How many kilometres of old mains did the Valmora water authority replace?")
    assert not record.abstained and "41" in record.answer
    cited = [p for p in record.passages if p.n in {c.n for c in record.citations}]
    assert cited and cited[0].page == 2

    assert main(["ask", "How many kilometres of old mains did the Valmora water authority "
                        "replace?", "--json", "--index", str(settings.index)]) == 0
    printed = json.loads(capsys.readouterr().out)
    shown = {p["n"]: p for p in printed["passages"]}
    assert [shown[c["n"]]["page"] for c in printed["citations"]] == [2]
