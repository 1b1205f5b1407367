"""The verifier with the real GGUF model: entailment asked inside the answer's own context."""

import pytest

from rag.answer.prompting import build_answer_prompt
from rag.evaluate.run import as_passages

STUBB = ("Finland’s President Alexander Stubb said that in a call with European leaders on Thursday, "
         "US President Donald Trump urged the US and its European allies to coordinate closely on new "
         "sanctions against Russia, including possible measures on oil and gas.")
BLACKLIST = ("The Blacklist's tenth and final season premiered on NBC on February 26, 2023, "
             "with James Spader back as Raymond Reddington.")


@pytest.mark.parametrize("question,passage,sentence,expected", [
    ("Who urged coordination on sanctions?", STUBB,
     "Finnish President Alexander Stubb said Trump urged the US and its allies to coordinate "
     "on new sanctions against Russia.", True),
    ("When did the tenth season of The Blacklist premiere?", BLACKLIST,
     "The tenth season of The Blacklist premiered on February 26, 2023.", True),
    ("When did the tenth season of The Blacklist premiere?", BLACKLIST,
     "The first season of The Blacklist premiered on February 26, 2023.", False),
    ("When did the tenth season of The Blacklist premiere?", BLACKLIST,
     "The tenth season of The Blacklist premiered on February 26, 2022.", False),
    ("Who urged coordination on sanctions?", STUBB,
     "Swedish President Alexander Stubb said Trump urged the US to coordinate on sanctions.", False),
])
def test_entailment_decides_paraphrase_substitution_and_contradiction(assistant, question, passage,
                                                                       sentence, expected):
    check = assistant.verify(question, as_passages([passage]), sentence)
    assert check.supported is expected, check.reason


def test_the_model_check_reuses_the_answer_prompt_and_costs_only_its_own_tokens(assistant):
    passages = as_passages([STUBB, BLACKLIST])
    question = "Who urged coordination on sanctions?"
    prompt = build_answer_prompt(assistant.prompts, question, passages,
                                 count_tokens=assistant.generator.count_tokens,
                                 n_ctx=assistant.generator.n_ctx, max_answer_tokens=256)
    assert prompt.tokens > 250
    bound = assistant.reviewer.bind(question, prompt.passages, prompt.chat)
    first = bound.check("Trump urged the US and its allies to coordinate on sanctions [1].", [1])
    second = bound.check("Trump urged allies to coordinate closely on new sanctions against Russia.", [1])
    assert first.probability is not None and first.supported and second.supported
    # the second check shares the prompt and the check's opening words with the first
    assert assistant.generator.last_evaluated < 60
    again = bound.check("Trump urged allies to coordinate closely on new sanctions against Russia [1].", [1])
    assert again == second  # a repointed or re-marked sentence is not asked twice


def test_a_check_reads_the_same_numbers_whatever_the_cache_held_before(assistant):
    """llama.cpp's logits depend on how a prompt is split into batches (by up to 0.6 here), so an
    answer prompt is always evaluated from the end of its fixed part: the same answer and check
    give the same P(Yes), to the last bit, after any earlier prompt."""
    generator = assistant.generator
    passages = as_passages([STUBB, BLACKLIST])

    def prompt_for(question):
        return build_answer_prompt(assistant.prompts, question, passages,
                                   count_tokens=generator.count_tokens, n_ctx=generator.n_ctx,
                                   max_answer_tokens=64).messages

    asked, other = prompt_for("Who urged coordination on sanctions?"), prompt_for("Who is Reddington?")
    check = [*asked, {"role": "user", "content": "Does source [1] name Alexander Stubb? Yes or No."}]

    def p_yes_after(*earlier):
        for messages in earlier:
            generator.chat(messages, max_tokens=8)
        generator.chat(asked, max_tokens=8)
        return generator.yes_probability(check)

    alone = p_yes_after()
    assert p_yes_after(other) == alone  # the cache held the same sources under another question
    assert p_yes_after(asked) == alone  # the cache held this very prompt
