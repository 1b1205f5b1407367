"""Two readings (`RAG_READ_FIRST=2`) with the real GGUF model: the best passages first, all of
them only when those give no answer, the second resuming from the first one's KV cache."""

import pytest

from rag.answer.assistant import Assistant
from rag.answer.events import Final, Sources, Status, Token
from rag.answer.prompting import build_answer_prompt
from rag.evaluate.run import as_passages
from tests.check.test_verifier import BLACKLIST, STUBB

pytestmark = pytest.mark.model

# a dev question whose answer stands in neither of the two best passages of the seed index
SECOND_READING_QUESTION, SECOND_READING_FACT = "Where did Trump hold his August summit with Putin?", "Alaska"
EIFFEL = "The Eiffel Tower in Paris was repainted in 2024 for the first time in fifteen years."
NOBEL = ("The 2023 Nobel Prize in Literature was awarded to the Norwegian writer Jon Fosse for "
         "his plays and prose.")


@pytest.fixture(scope="module")
def reader(assistant) -> Assistant:
    """The seed assistant, reading its best two passages first."""
    return Assistant(assistant.settings.model_copy(update={"read_first": 2}),
                     embedder=assistant.embedder, generator=assistant.generator,
                     index=assistant.index)


def _messages(assistant, question, passages):
    generator = assistant.generator
    return build_answer_prompt(assistant.prompts, question, passages,
                               count_tokens=generator.count_tokens, n_ctx=generator.n_ctx,
                               max_answer_tokens=64).messages


def test_the_second_reading_pays_only_for_the_added_passages_and_reads_as_from_scratch(assistant):
    generator = assistant.generator
    passages = as_passages([STUBB, EIFFEL, BLACKLIST, NOBEL])
    question = "When did the tenth season of The Blacklist premiere?"
    first, whole = _messages(assistant, question, passages[:2]), _messages(assistant, question, passages)
    check = [*whole, {"role": "user", "content": "Does source [3] name James Spader? Yes or No."}]

    def read(messages, other):
        return "".join(generator.stream_chat(messages, max_tokens=24, temperature=0.0,
                                             shares_start_with=other))

    read(first, whole)
    after_first = read(whole, first)
    reused = generator.last_reused
    p_after_first = generator.yes_probability(check)
    # the first reading's prompt up to its question (about 35 tokens) is the start of the second's
    assert generator.prompt_tokens(first) - 40 <= reused < generator.prompt_tokens(first)
    assert "2023" in after_first

    generator.chat(_messages(assistant, "Who is Jon Fosse?", passages), max_tokens=8)
    from_scratch = read(whole, first)  # another prompt filled the cache: nothing to resume from
    assert generator.last_reused < reused
    assert from_scratch == after_first
    assert generator.yes_probability(check) == p_after_first  # to the last bit


def test_an_answer_in_the_best_passages_is_read_once(reader):
    events = list(reader.stream("Which US special envoy attended the talks at the Elysee Palace?"))
    offered = next(e for e in events if isinstance(e, Sources)).passages
    record = events[-1].record
    assert not record.abstained and "Witkoff" in record.answer
    assert record.readings == 1
    assert record.passages == offered[:2]  # what the model read
    whole = reader.prompt_for(record.standalone_question, offered)
    assert record.prompt_tokens < reader.generator.prompt_tokens(whole.messages) - 100


def test_an_answer_beyond_the_best_passages_comes_from_a_second_reading(reader):
    events = list(reader.stream(SECOND_READING_QUESTION))
    offered = next(e for e in events if isinstance(e, Sources)).passages
    record = events[-1].record
    assert isinstance(events[-1], Final)
    assert record.readings == 2 and record.passages == offered
    assert not record.abstained and SECOND_READING_FACT in record.answer
    assert [e.stage for e in events if isinstance(e, Status)][-1] == "reading_more"
    streamed = "".join(e.text for e in events if isinstance(e, Token))
    assert "NOT IN THE ARTICLES" not in streamed.upper()  # the first reading's refusal was held back


def test_a_citation_believed_only_in_doubt_moves_to_the_passage_that_spells_it_out(reader):
    """From two passages the model cites [2], a list of who is undecided, for the three countries
    named in [1]; the check, reading [1] too, believes it (P(Yes) 0.62 against 0.58 needed)."""
    record = reader.ask("Besides France and the UK, which countries signaled a readiness to "
                        "participate in the mission?")
    assert record.readings == 1 and "Estonia" in record.answer
    by_n = {p.n: p.text for p in record.passages}
    assert record.citations and all("Belgium, Lithuania and Estonia" in by_n[c.n]
                                    for c in record.citations)
    assert record.citations_repointed == 1
