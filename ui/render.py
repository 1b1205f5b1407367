"""Turn answer records into what the chat shows: HTML that a reader can check, and plain text.

Article text is untrusted. Everything taken from an article or the model is passed through
`inert`, which turns HTML *and* Markdown syntax into character references, so neither a
`<script>`, an `<img onerror=…>` nor a Markdown image `![x](http://…)` can render as anything
but text in the chat (whose renderer understands both). A source's URL becomes a link only when
it is http(s) (`web_url`), so a `javascript:` address in an article stays text.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from rag.check import claims_by_source, passage_evidence, supporting_sentence
from rag.text import split_sentences
from rag.types import AnswerRecord, Passage
from rag.untrusted import instruction_sentences

_ESCAPES = {c: f"&#{ord(c)};" for c in "[]()!*_`#|~$:{}\\^=+-"}


def inert(text: str) -> str:
    """Text that renders literally in Markdown-with-HTML: no tags, links, images or emphasis."""
    return "".join(_ESCAPES.get(c) or html.escape(c, quote=True) for c in text).replace("\n", "<br>")


_ABSTAIN_REASONS = {
    "no_relevant_passages": "no passage in the articles is close to this question",
    "model_declined": "the passages found do not contain the answer",
    "unsupported_answer": "the model's draft was not supported by the passages it was shown",
    "quote_does_not_answer": "no sentence the model could quote answers the question",
    "names_not_in_articles": "the passages found never mention whom or what the question names",
}


def _anchor(answer_id: str, n: int) -> str:
    return f"src-{answer_id}-{n}"


def answer_html(record: AnswerRecord, answer_id: str) -> str:
    """The answer with linked [n] markers and marked unsupported sentences, then its sources."""
    if record.abstained:
        reason = _ABSTAIN_REASONS.get(record.abstain_reason or "", "")
        return (f'<div class="rag-abstained"><strong>Not in the articles.</strong> '
                f"{inert(record.answer)} <em>({reason})</em></div>")
    unsupported = set(record.unsupported_sentences)
    parts = []
    for sentence in split_sentences(record.answer):
        body = _link_markers(inert(sentence), answer_id)
        if sentence in unsupported:
            body = (f'<span class="rag-unsupported" title="No cited passage supports this '
                    f'sentence">{body} <sup>unsupported</sup></span>')
        parts.append(body)
    out = [f'<div class="rag-answer">{" ".join(parts)}</div>']
    out += [f'<blockquote class="rag-evidence">“{inert(q.text)}” '
            f'{_link_markers(inert(f"[{q.n}]"), answer_id)}</blockquote>' for q in record.quotes]
    if record.removed_markers:
        out.append(f'<div class="rag-note">{record.removed_markers} citation marker(s) that '
                   "pointed at no source were removed.</div>")
    out.append(sources_html(record, answer_id))
    return "\n".join(out)


def _link_markers(escaped: str, answer_id: str) -> str:
    """Markers were escaped by `inert`; turn each back into a link to its source."""
    pattern = re.compile(r"&#91;(\d+)&#93;")
    return pattern.sub(lambda m: f'<a class="rag-cite" href="#{_anchor(answer_id, int(m.group(1)))}">'
                                 f"[{m.group(1)}]</a>", escaped)


def sources_html(record: AnswerRecord, answer_id: str) -> str:
    cited = {c.n for c in record.citations}
    support_by_n = claims_by_source(record.sentence_support)
    quoted = {q.n: q.text for q in reversed(record.quotes)}  # a passage's first quote
    items = [_source(passage, _highlight(passage, support_by_n.get(passage.n, []),
                                         quoted.get(passage.n)), answer_id)
             for passage in record.passages if passage.n in cited]
    if not items:
        return ""
    return (f'<details class="rag-sources" open><summary>Sources ({len(items)})</summary>'
            + "".join(items) + "</details>")


def found_html(passages: list[Passage]) -> str:
    """The passages the model is reading, shown while it answers; the finished answer replaces
    them with the ones it cites."""
    items = [_source(passage, inert(passage.text)) for passage in passages]
    return (f'<details class="rag-found" open><summary>Reading {len(items)} passage'
            f'{"s" if len(items) != 1 else ""} from the articles…</summary>' + "".join(items)
            + "</details>")


def _source(passage: Passage, body: str, answer_id: str | None = None) -> str:
    """One source: where it comes from (linked when it came from the web), its page, the
    passage, and the other outlets that carried the story. With `answer_id` it is the target
    of that answer's markers and offers to open the whole article."""
    attributes, read = "", ""
    if answer_id is not None:
        key = source_key(answer_id, passage.n)
        attributes = f' id="{_anchor(answer_id, passage.n)}"'
        read = (f' · <a class="rag-read" id="read-{key}" href="#{_anchor(answer_id, passage.n)}" '
                f'title="Open the whole article at this passage">Read the article</a>')
    where = [f'<span class="rag-date">{inert(passage.date or "undated")}</span>']
    if passage.page:
        where.append(f'<span class="rag-page">p. {int(passage.page)}</span>')
    if site := _site(passage.url):
        where.append(f'<span class="rag-site">{inert(site)}</span>')
    also = ", ".join(f"{link(item.get('url'), inert(str(item.get('title') or item.get('doc_id'))))}"
                     + (f" ({inert(s)})" if (s := _site(item.get("url"))) else "")
                     for item in passage.also_in)
    return (f'<div class="rag-source"{attributes}>'
            f"<strong>[{passage.n}] {link(passage.url, inert(passage.title))}</strong> "
            + " · ".join(where) + read
            + f'<div class="rag-passage">{body}</div>'
            + (f'<div class="rag-also">Also reported by: {also}</div>' if also else "")
            + "</div>")


def source_key(answer_id: str, n: int) -> str:
    """What a "Read the article" control sends back: the answer and the source's number, which
    the session looks up in its own answers (the browser never names an article or offsets)."""
    return f"{answer_id}-{n}"


def web_url(url: str | None) -> str | None:
    """The URL when a browser may follow it: http(s) with a host and no spaces or control
    characters. Anything else (`javascript:`, `data:`, a relative path) is shown as text only."""
    if not url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _site(url: str | None) -> str | None:
    return urlsplit(safe).hostname if (safe := web_url(url)) else None


def link(url: str | None, label: str) -> str:
    """`label` (already escaped) as a link that opens in a new tab, when `url` is a web URL;
    else the label alone. The URL is escaped like text: the browser decodes the references."""
    safe = web_url(url)
    if safe is None:
        return label
    return f'<a href="{inert(safe)}" target="_blank" rel="noopener noreferrer">{label}</a>'


def _highlight(passage: Passage, claims: list[str], quote: str | None = None) -> str:
    """The passage with its evidence highlighted (the model's quote, else the sentence that best
    supports the cited claims) and any text addressed to AI assistants marked as such."""
    text = passage.text
    marks = [(s, "rag-untrusted") for s in instruction_sentences(text)]
    best = quote or supporting_sentence(passage, claims)
    if best:
        marks.append((best, "rag-quote" if quote else "rag-support"))
    spans = sorted((at, at + len(part), kind) for part, kind in marks
                   if (at := text.find(part)) >= 0)
    out, done = [], 0
    for start, end, kind in spans:
        if start < done:
            continue
        title = ' title="Text addressed to AI assistants: shown, never followed"' if (
            kind == "rag-untrusted") else ""
        out.append(f'{inert(text[done:start])}<mark class="{kind}"{title}>'
                   f"{inert(text[start:end])}</mark>")
        done = end
    return "".join(out) + inert(text[done:])


def answer_text(record: AnswerRecord) -> str:
    """The answer and its cited sources as plain text, for copying."""
    lines = [record.answer]
    cited = {c.n for c in record.citations}
    sources = [p for p in record.passages if p.n in cited]
    if sources:
        lines.append("")
        lines.append("Sources:")
        for p in sources:
            page = f", p. {p.page}" if p.page else ""
            lines.append(f"[{p.n}] {p.title} ({p.date or 'undated'}{page}), {web_url(p.url) or p.doc_id}")
            lines.append("    " + " ".join(passage_evidence(p).split("\n", 1)[-1].split()))
    return "\n".join(lines)
