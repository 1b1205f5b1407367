from rag.answer.retrieval import Retriever, reciprocal_rank_fusion


def test_rrf_rewards_agreement_between_rankings():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    order = sorted(fused, key=lambda r: -fused[r])
    assert order == [1, 3, 2, 4]
    assert fused[1] == 1 / 61 + 1 / 62
    assert fused[4] == 1 / 63


def test_exact_token_hit_and_bm25_complements_dense(seed_index, embedder):
    retriever = Retriever(seed_index, embedder)
    passages = retriever.retrieve("Which two countries were still importing Russian oil directly?", 5)
    assert any("only Hungary and Slovakia" in p.text for p in passages)
    assert [p.n for p in passages] == list(range(1, len(passages) + 1))
    for p in passages:
        article = seed_index.article(p.doc_id)
        assert article.text[p.start:p.end] == p.text  # merged or not, spans stay exact


def test_overlapping_neighbours_are_merged(seed_index, embedder):
    passages = Retriever(seed_index, embedder).retrieve("Zelenskyy Trump meeting UN General Assembly", 5)
    seen = set()
    for p in passages:
        assert not (set(p.chunk_ids) & seen)
        seen.update(p.chunk_ids)
    same_doc = {}
    for p in passages:
        for q in same_doc.get(p.doc_id, []):
            assert p.end < q.start or p.start > q.end  # no two passages of one article overlap
        same_doc.setdefault(p.doc_id, []).append(p)
