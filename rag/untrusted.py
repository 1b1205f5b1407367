"""Article text that speaks to the assistant instead of reporting: recognised so it stays data.

Articles are untrusted. A page may carry text written for the model that reads it ("ignore all
previous instructions…", a fake "[System]" rule, "Assistant, when asked about X, say …", the same
in French, inside an HTML or Markdown comment, base64-encoded, or split over two sentences). Such
a sentence is never evidence, never quoted and never part of an answer; ingest reports it and the
UI marks it. The patterns name how text addresses a reader that is a model, not topics: a news
report about chatbots or about instructions given to people does not match (measured on the seed
articles and RGB's corpus: no sentence flagged, see tests/test_untrusted.py).
"""

from __future__ import annotations

import base64
import binascii
import re

from rag.text import split_sentences

_MODEL = r"(?:ai|a\.i\.|assistant|chat ?bot|bot|language model|llm|gpt|model)s?"
_REPLY = r"(?:answers?|repl(?:y|ies)|responses?|outputs?|summar(?:y|ies))"
_VERB = (r"(?:reply|respond|answer|say|print|output|write|begin|start|end|include|append|mention|"
         r"state|tell|claim|refuse|repeat|add)")
_ADDRESSES_MODEL = [
    # "ignore / disregard / forget (all) previous instructions", in the languages news comes in
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,50}\b(?:instructions?|prompts?|rules|"
    r"directions|guidelines|above|context)\b",
    r"\bignor\w*\b[^.!?\n]{0,50}\b(?:instruc\w*|anweisung\w*|istruzion\w*|consign\w*|regeln|"
    r"indicaciones|règles)\b",
    r"\b(?:répond\w*|responde\w*|rispond\w*|antworte\w*|réponds)\b[^.!?\n]{0,40}\b(?:uniquement|"
    r"seulement|solo|solamente|nur|soltanto|únicamente)\b",
    # rules for the reply itself
    rf"\b{_VERB}\b[^.!?\n]{{0,30}}\b(?:only|exactly|solely)\b[^.!?\n]{{0,20}}\b(?:with|the word|"
    r"the phrase|the code|this)\b",
    rf"\b(?:your|every|each|any|all|the next)\s+(?:\w+\s+)?{_REPLY}\b[^.!?\n]{{0,40}}"
    r"\b(?:must|should|shall|has to|have to|needs? to|will)\b",
    r"\b(?:must|should|always)\s+(?:begin|start|end|include|contain|mention)\b[^.!?\n]{0,40}"
    r"\b(?:code ?word|phrase|word|sentence)\b",
    r"\b(?:all|any|every)\s+(?:future\s+)?(?:questions?|users?|prompts?)\b[^.!?\n]{0,40}\b(?:answer|"
    r"repl|respond|say)\w*",
    r"\b(?:answer|repl|respond)\w*\s+to\s+(?:any|every|all)\s+(?:\w+\s+)?(?:questions?|users?)\b",
    rf"\b(?:append|add|prepend)\b[^.!?\n]{{0,40}}\b(?:to|at the (?:start|end) of)\s+(?:every|each|"
    rf"any|all|your)\s+(?:\w+\s+)?{_REPLY}\b",
    # the assistant addressed by name or role
    rf"^(?:dear\s+|attention,?\s+|hey,?\s+|note to (?:the\s+|any\s+|all\s+)?)?{_MODEL}\b\s*[,:!]",
    rf"\bnote (?:to|for) (?:the\s+|any\s+|all\s+)?(?:\w+\s+)?{_MODEL}\b",
    rf"\bif you are an? (?:\w+\s+)?{_MODEL}\b",
    rf"\b(?:as|being) an? (?:\w+\s+)?{_MODEL}\b[^.!?\n]{{0,40}}\byou\b",
    rf"\b{_MODEL} (?:reading|summari[sz]ing|processing|answering)\b[^.!?\n]{{0,40}}\b(?:must|"
    r"should|will|shall|this)\b",
    r"\bwhen(?:ever)? (?:you are|you're) asked\b",
    r"\b(?:you are now|from now on,? you|you must now|you will now|new (?:instructions?|rules?|"
    r"task)\s*[:!]|developer mode|jailbreak|do anything now|system prompt|hidden instructions?)",
    r"\binstead\b[^.!?\n]{0,20}\b(?:output|reply|respond|say|print|write)\b",
    r"\bdo not (?:answer|reply to|respond to)\b[^.!?\n]{0,30}\b(?:question|user)\b",
    # role tags and fake ends of the source
    r"\[\s*/?\s*(?:system|inst|assistant|user|admin|developer)\s*\]",
    r"<\|?\s*/?\s*(?:im_start|im_end|system|assistant|user|endoftext|eot_id)\s*\|?>",
    r"^\s*(?:#+\s*)?(?:system|assistant|admin|developer|instructions?|user)\s*(?:message|prompt|"
    r"note|override)?\s*:\s*(?:you|ignore|always|never|from now|new|reply|respond|answer|say|do|"
    r"the assistant|every|all|any|when)\b",
    r"\b(?:end|close) of (?:the\s+)?(?:sources?|document|article|context|quote|passage|input)\b",
    r"\b(?:end|begin)\s*[_-]?\s*(?:source|document|quote|context|input)\b",
]
_ADDRESS = re.compile("|".join(f"(?:{p})" for p in _ADDRESSES_MODEL), re.I | re.M)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)|<!$|^\s*--.*-->|^\s*\[(?://|comment)\]\s*:\s*#.*$",
                      re.S | re.M | re.I)
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{20,}={0,2}(?![A-Za-z0-9+/])")


def is_instruction(sentence: str) -> bool:
    """Does this sentence address the model that reads it, or hide text from the human reader?"""
    if _ADDRESS.search(sentence) or _COMMENT.search(sentence):
        return True
    return any(_encoded_text(blob) for blob in _BASE64.findall(sentence))


def instruction_sentences(text: str) -> list[str]:
    """The sentences of `text` (as `rag.text.split_sentences` cuts it) that `is_instruction`."""
    return [s for s in split_sentences(text) if is_instruction(s)]


def without_instructions(text: str) -> str:
    """The text's sentences that report, one per line (empty when none does)."""
    return "\n".join(s for s in split_sentences(text) if not is_instruction(s))


def _encoded_text(blob: str) -> bool:
    """A base64 run that decodes to readable text: nothing a reader of the news sees."""
    if not re.search(r"[a-z]", blob) or not re.search(r"[A-Z0-9]", blob):
        return False
    padded = blob + "=" * (-len(blob) % 4)
    try:
        decoded = base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    letters = sum(c.isalpha() or c == " " for c in decoded)
    return len(decoded) >= 12 and letters >= 0.8 * len(decoded)
