"""Split clean article text into overlapping chunks that remember where they came from.

Every chunk keeps its character span in the article's clean text, so a passage shown to the
model (and later to the reader) can always be traced back to the exact place in the article.
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
    chunks = []
    for ordinal, doc in enumerate(splitter.create_documents([article.text])):
        start = doc.metadata["start_index"]
        chunks.append(Chunk(
            chunk_id=f"{article.doc_id}#{ordinal}",
            doc_id=article.doc_id,
            title=article.title,
            date=article.date,
            start=start,
            end=start + len(doc.page_content),
            text=doc.page_content,
        ))
    return chunks
