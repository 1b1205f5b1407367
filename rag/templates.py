"""Prompt templates: the files in prompts/, read once and filled in.

Templates use `$name` placeholders and fail loudly when one is missing, so a renamed variable
cannot silently produce an empty prompt. Both the answer prompt (`rag.answer.prompting`) and the
model's entailment check (`rag.check.entailment`) are rendered from here.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from rag.errors import RagError

ABSTAIN_TOKEN = "NOT IN THE ARTICLES"  # what the system prompt tells the model to reply
NOT_IN_ARTICLES = "The articles do not answer this question."  # what the reader is told


class Prompts:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, Template] = {}

    def render(self, name: str, **values: object) -> str:
        template = self._cache.get(name)
        if template is None:
            path = self.folder / f"{name}.txt"
            try:
                template = Template(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise RagError(f"prompt template {path} cannot be read: {exc.strerror}") from None
            self._cache[name] = template
        try:
            return template.substitute(values).strip()
        except KeyError as exc:
            raise RagError(f"prompt template {name}.txt needs a value for ${exc.args[0]}") from None
