from pathlib import Path

import pytest

from rag.errors import BadInput
from rag.ingest.sources import load_article, load_articles, parse_article, try_load_article
from rag.types import Skipped
from tests.conftest import LIVE_BLOG, SEEDS


def test_live_blog_loses_its_icon_strip_and_footer():
    article = load_article(LIVE_BLOG)
    assert article.doc_id == "004_11cf7204ea443644"
    assert article.date == "2025-09-04"  # from "4 Sep, 2025 13:30" in the body
    assert article.title == "Zelensky and Ukraine’s European backers talk to Trump: As it happened"
    for furniture in ("bookmarkicon", "chevron", "commenting policy", "Dear readers", "Podcasts",
                      "24:55", "4 Sep, 2025 13:30"):
        assert furniture not in article.text
    assert article.text.count("As it happened") == 1  # the repeated headline is kept once
    assert "Trump clashed with European leaders" in article.text
    assert article.text.rstrip().endswith("We are going to get it done.”")


def test_date_header_is_metadata_not_text():
    articles, skipped = load_articles([SEEDS])
    assert not skipped
    by_id = {a.doc_id: a for a in articles}
    assert [a.doc_id for a in articles] == sorted(by_id)
    assert by_id["000_2dbef902655937a0"].date == "2025-09-04"
    assert by_id["001_b72cc718d4f6e6c6"].date == "2025-09-20"
    assert by_id["003_284de9346aba49a3"].date == "2025-09-24"
    for article in articles:
        assert not article.text.lstrip().startswith("date")


def test_byline_photo_credit_and_dangling_label_removed():
    article = load_article(SEEDS / "003_284de9346aba49a3.txt")
    assert article.title == "Zelenskyy comments on his discussion with Trump about security guarantees for Ukraine"
    assert "Getty Images" not in article.text
    assert "All Sections" not in article.text
    assert "Mariya Yemets" not in article.text
    assert not article.text.rstrip().endswith("Background:")


def test_title_falls_back_to_first_sentence_without_breaking_abbreviations():
    article = load_article(SEEDS / "002_ae23ea00b4c5bd97.txt")
    assert article.title.startswith("U.S. President Donald Trump spoke by phone")
    assert len(article.title) <= 91


def test_html_goes_through_extraction(tmp_path):
    page = tmp_path / "story.html"
    page.write_text("""<html><head><title>Harbour reopens after storm</title>
<meta property="article:published_time" content="2025-10-02T08:00:00Z"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Harbour reopens after storm</h1>
<p>The harbour of Valmora reopened on Thursday after a storm closed it for nine days, the port authority said.</p>
<p>Fishing boats were the first to leave, carrying crews who had waited since the closure began.</p>
<script>alert('x')</script></article>
<footer>Copyright 2025 Example News. All rights reserved.</footer></body></html>""", encoding="utf-8")
    article = load_article(page)
    assert article.title == "Harbour reopens after storm"
    assert article.date == "2025-10-02"
    assert "nine days" in article.text
    assert "alert(" not in article.text and "All rights reserved" not in article.text


def test_markdown_heading_is_the_title():
    article = parse_article("# Bridge opens\n\nThe **new bridge** over the [river](http://x) opened "
                            "on 3 March 2025, city officials said.\n", kind="markdown",
                            doc_id="bridge", source="bridge.md")
    assert article.title == "Bridge opens"
    assert article.date == "2025-03-03"
    assert "new bridge over the river opened" in article.text


def test_unreadable_files_are_skipped_with_a_reason(tmp_path):
    (tmp_path / "good.txt").write_text("A good article about the harbour reopening after a storm.")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ol\xe9".encode("latin-1"))
    articles, skipped = load_articles([tmp_path])
    assert [a.doc_id for a in articles] == ["good"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons == {"empty.txt": "empty file", "binary.txt": "binary file",
                       "latin1.txt": "not UTF-8 text"}


def test_missing_path_and_empty_folder_are_errors(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        load_articles([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=r"no \.txt, \.md, \.html, \.pdf or \.docx files"):
        load_articles([tmp_path / "empty"])
    (tmp_path / "notes.odt").write_bytes(b"PK")
    with pytest.raises(BadInput, match=r"unsupported file type \.odt; use \.txt, .* or \.docx"):
        load_articles([tmp_path / "notes.odt"])


def test_a_file_gone_or_unreadable_when_read_is_skipped_not_fatal(tmp_path):
    """A file can go (or turn out to be unreadable) between being listed and being read, as
    under `rag watch`: that skips it with one line instead of raising OSError."""
    gone = try_load_article(tmp_path / "gone.txt")
    assert gone == Skipped(str(tmp_path / "gone.txt"), "cannot read: No such file or directory")
    (tmp_path / "folder.txt").mkdir()  # a folder named like an article: reading it fails
    assert try_load_article(tmp_path / "folder.txt").reason == "cannot read: Is a directory"
