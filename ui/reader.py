"""The article reader: a cited source opened whole, with the cited passage highlighted.

A reader who doubts a citation wants the passage in its context, not only the passage. The
browser sends back only which source of which answer it wants (`ui.render.source_key`); the
article and the passage's offsets come from this session's own answers and the index, so a
page cannot make the server read an article it was not shown. Article text is untrusted and is
escaped whole; the reader panel is plain HTML (no Markdown), so escaping HTML is enough.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping

from rag.errors import RagError
from rag.types import AnswerRecord, Article, Passage
from ui.render import link, source_key

# Scrolls the highlight of the source just opened into the middle of the reader; Gradio renders
# the new HTML a moment after the event ends, so it looks a few times before giving up.
SCROLL_JS = """() => {
  const key = document.querySelector('#article-key textarea')?.value || '';
  let tries = 0;
  const look = () => {
    const mark = document.getElementById('cited-' + key);
    if (mark) { mark.scrollIntoView({block: 'center'}); }
    else if (tries++ < 50) { setTimeout(look, 100); }
  };
  look();
}"""

# A "Read the article" link in the chat names its source in its id; a click hands that key to a
# hidden text box and presses the hidden button whose event opens the reader. Escape closes it.
CLICK_JS = """() => {
  document.addEventListener('click', (event) => {
    const read = event.target.closest && event.target.closest('a.rag-read');
    if (!read) { return; }
    event.preventDefault();
    const box = document.querySelector('#article-key textarea');
    box.value = read.id.replace(/^read-/, '');
    box.dispatchEvent(new Event('input', {bubbles: true}));
    document.querySelector('#article-open').click();
  }, true);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { document.querySelector('#article-close')?.click(); }
  });
}"""


def find_source(answers: Mapping[str, AnswerRecord], key: str) -> Passage | None:
    """The cited passage a key names, among this session's answers."""
    for answer_id, record in answers.items():
        for passage in record.passages:
            if source_key(answer_id, passage.n) == key:
                return passage
    return None


def passage_span(article: Article, passage: Passage) -> tuple[int, int] | None:
    """Where the passage is in the article's text now: at its offsets when the text there is
    still the passage's, else where the passage's text first occurs (the article was updated),
    else nowhere."""
    start, end = passage.start, passage.end
    if 0 <= start < end <= len(article.text) and article.text[start:end] == passage.text:
        return start, end
    at = article.text.find(passage.text) if passage.text else -1
    return (at, at + len(passage.text)) if at >= 0 else None


def article_html(article: Article, span: tuple[int, int] | None, mark_id: str = "cited") -> str:
    """The whole article, escaped, with `text[start:end]` in `<mark id=mark_id>` and a page
    label where each page starts (when the article has pages)."""
    text = article.text
    pages = [p for p in article.pages if 0 <= p <= len(text)]
    start, end = span if span else (len(text), len(text))
    cuts = sorted({0, len(text), start, end, *pages})
    out, marked = [], False
    for a, b in zip(cuts, cuts[1:]):
        if a in pages:  # numbered as citations number it: an empty page's label is skipped
            out.append(f'<span class="rag-page-start">p. {article.page_at(a)}</span>')
        piece = html.escape(text[a:b])
        if start <= a and b <= end:
            attribute = "" if marked else f' id="{html.escape(mark_id)}"'
            piece = f'<mark class="rag-cited"{attribute}>{piece}</mark>'
            marked = True
        out.append(piece)
    meta = [html.escape(article.date or "undated")]
    if article.author:
        meta.append(f"by {html.escape(article.author)}")
    if pages:
        meta.append(f"{len(pages)} page{'s' if len(pages) != 1 else ''}")
    if article.url:
        meta.append(link(article.url, html.escape(article.url)))
    note = ("" if span else '<p class="rag-note">The article has changed since this answer: '
            "the cited passage is no longer in it.</p>")
    return (f'<div class="rag-article"><h3>{html.escape(article.title)}</h3>'
            f'<div class="rag-article-meta">{" · ".join(meta)}</div>{note}'
            f'<div class="rag-article-text">{"".join(out)}</div></div>')


def read_source(answers: Mapping[str, AnswerRecord], key: str,
                article_of: Callable[[str], Article | None]) -> str:
    """The reader's HTML for the source `key` names; `article_of(doc_id)` reads the index. A
    source that has gone, or an index that cannot be read, is one line in the panel."""
    passage = find_source(answers, key)
    if passage is None:
        return _line("That source is not part of this conversation any more; ask again.")
    try:
        article = article_of(passage.doc_id)
    except RagError as exc:
        return _line(f"The article could not be read: {exc}")
    if article is None:
        return _line(f"{passage.title} has been removed from the index since this answer.")
    return article_html(article, passage_span(article, passage), f"cited-{key}")


def _line(message: str) -> str:
    return f'<p class="rag-note">{html.escape(message)}</p>'
