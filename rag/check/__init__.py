"""Which answer sentence each shown passage supports, and why: the answer path's one door.

Code outside this package imports only from `rag.check` itself (`tests/test_layers.py` holds it
to that). The assistant asks `Reviewer.review` one question (this reply, these passages, this
question) and gets back the reply with its markers mended and each sentence's support. Behind
the door the calls run one way, down: `review` -> `citing` and `support` (markers moved, support
recorded) -> `verifier` (one decision per sentence and sources) -> its rules: `constraints` (what
the question pins down), `judge` (lexical support), `entailment` (the model's Yes or No), all
over the word primitives of `words`. `markers` reads the [n] markers a model writes; `quotes`
holds a quote-then-answer reply's answer to its quotes.
"""

from rag.check.markers import StreamingMarkerFilter
from rag.check.quotes import absent_names, changed_facts, quote_as_answer
from rag.check.review import Review, Reviewer
from rag.check.support import claims_by_source, passage_evidence, supporting_sentence
from rag.check.verifier import Check

__all__ = ["Check", "Review", "Reviewer", "StreamingMarkerFilter", "absent_names",
           "changed_facts", "claims_by_source", "passage_evidence", "quote_as_answer",
           "supporting_sentence"]
