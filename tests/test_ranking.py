"""Chunk ranking: the chunk that answers the question comes first."""

from pipelines.ranking import rank_chunks

CHUNKS = [
    "Accept cookies to continue browsing our website.",
    "Acme Robotics was founded in 2004 in Leipzig.",
    "Jane Doe is the Chief Executive Officer (CEO) of Acme Robotics.",
    "Contact us at info@acme.example or call our office.",
]


def test_best_chunk_first_and_top_k_respected():
    ranked = rank_chunks("Who is the CEO of Acme Robotics?", CHUNKS, 2)
    assert [r.index for r in ranked][0] == 2
    assert len(ranked) == 2
    assert ranked[0].score > ranked[1].score > 0


def test_no_matching_terms_still_returns_chunks_in_page_order():
    ranked = rank_chunks("zebra giraffe", CHUNKS, 3)
    assert [r.index for r in ranked] == [0, 1, 2]
    assert all(r.score == 0 for r in ranked)


def test_empty_page():
    assert rank_chunks("anything", [], 3) == []
