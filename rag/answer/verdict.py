"""A review's verdict written into the answer record: what the reader is told, and why."""

from __future__ import annotations

from rag.check import Review
from rag.templates import NOT_IN_ARTICLES
from rag.types import AnswerRecord, Citation

# abstentions a second try may overturn: the model's own refusal, or a draft the checks rejected
# (not a question about a name no passage mentions, nor a search that found nothing)
RETRIED = frozenset({"model_declined", "unsupported_answer"})


def abstain(record: AnswerRecord, reason: str) -> None:
    record.abstained, record.abstain_reason = True, reason
    record.answer = NOT_IN_ARTICLES


def apply_review(record: AnswerRecord, review: Review) -> None:
    """The review's verdict into the record: the checked answer and its citations, or an
    abstention when the model declined or nothing it said stands on a passage it saw."""
    record.removed_markers = review.removed_markers
    if review.declined:
        abstain(record, "model_declined")
        return
    record.extractive_fallback = review.extractive_fallback
    record.citations_added, record.citations_repointed = (review.citations_added,
                                                          review.citations_repointed)
    if not review.supported:
        abstain(record, "unsupported_answer")
        return
    record.answer = review.answer
    record.sentence_support = review.support
    record.unsupported_sentences = [s.sentence for s in review.support if not s.supported]
    by_n = {p.n: p for p in record.passages}
    record.citations = [Citation(n, by_n[n].doc_id, by_n[n].chunk_id) for n in review.cited()]
