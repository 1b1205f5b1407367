"""Helpers the store tests share: questions, retrieval answers, chunk lists and a bulk corpus."""

from rag.answer.retrieval import Retriever

QUESTIONS = ["How many countries are ready to send troops?", "Who is Steve Witkoff?",
             "Which two countries were still importing Russian oil directly?"]


def _answers(index, embedder, questions=QUESTIONS, **filters):
    retriever = Retriever(index, embedder)
    return [[p.chunk_id for p in retriever.retrieve(q, 5, **filters)] for q in questions]


def _chunks(index):
    return [c.to_dict() for _, c in index.all_chunks()]


def _bulk(folder, count, text="The council of Valmora debated the harbour budget for article "
                               "{i}, and members voted on repairs to the sea wall. ", repeat=6):
    folder.mkdir(exist_ok=True)
    for i in range(count):
        (folder / f"bulk{i:03d}.txt").write_text(f" date 2025-10-{1 + i % 28:02d} "
                                                 + text.format(i=i) * repeat)
    return folder
