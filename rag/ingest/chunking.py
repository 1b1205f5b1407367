"""Split clean article text into overlapping chunks that remember where they came from.

Every chunk keeps its character span in the article's clean text, so a passage shown to the
model (and later to the reader) can always be traced back to the exact place in the article.
An article with pages (a PDF) is split page by page: a chunk never crosses a page break, so a
citation names the one page its words are on.
"""

from __future__ import annotations

from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.types import Article, Chunk


def chunk_article(article: Article, *, size: int, overlap: int) -> list[Chunk]:
    """Chunks in reading order; `article.text[c.start:c.end] == c.text` for each of them."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size,
        chunk_overlap=min(overlap, size // 2),
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""],
        keep_separator="end",
        add_start_index=True,
    )
    chunks: list[Chunk] = []
    for offset, end in _sections(article):
        for doc in splitter.create_documents([article.text[offset:end]]):
            start = offset + doc.metadata["start_index"]
            chunks.append(Chunk(
                chunk_id=f"{article.doc_id}#{len(chunks)}",
                doc_id=article.doc_id,
                title=article.title,
                date=article.date,
                start=start,
                end=start + len(doc.page_content),
                text=doc.page_content,
                url=article.url,
                page=article.page_at(start),
                group=article.group,
            ))
    return chunks


def _sections(article: Article) -> list[tuple[int, int]]:
    """The spans split on their own: each page, or the whole text."""
    if not article.pages:
        return [(0, len(article.text))]
    ends = [*article.pages[1:], len(article.text)]
    return [(start, end) for start, end in zip(article.pages, ends) if end > start]
