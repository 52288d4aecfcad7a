"""pick_batch: the token budget, the oldest input always in, similar lengths together,
groups never mixed."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from embedhub.engine.batching import padded_cost, pick_batch


@dataclass
class W:
    tokens: int
    seq: int
    group: tuple = ("right", None)


def chosen(waiting, budget):
    return [waiting[i] for i in pick_batch(waiting, budget)]


def test_empty():
    assert pick_batch([], 100) == []


def test_everything_fits():
    waiting = [W(5, 0), W(7, 1), W(6, 2)]
    assert sorted(pick_batch(waiting, 1000)) == [0, 1, 2]


def test_budget_counts_padded_tokens():
    waiting = [W(10, 0), W(10, 1), W(10, 2), W(10, 3)]
    assert len(pick_batch(waiting, 30)) == 3  # 4 x 10 = 40 > 30
    assert len(pick_batch(waiting, 40)) == 4


def test_long_inputs_share_a_pass_by_attention_cells_not_tokens():
    # Up to 32 tokens the padded-token budget decides; past it, inputs x length^2 does: the
    # attention scores are what a pass's memory grows with.
    short = [W(32, i) for i in range(300)]
    assert len(pick_batch(short, 8192)) == 256  # 256 x 32 = 8,192 tokens
    long = [W(256, i) for i in range(200)]
    assert len(pick_batch(long, 8192)) == 4  # 4 x 256^2 = 8,192 x 32 cells; 32 would fit tokens
    assert len(pick_batch([W(128, i) for i in range(50)], 8192)) == 16
    assert len(pick_batch([W(1024, i) for i in range(5)], 8192)) == 1  # the oldest, alone


def test_oldest_alone_when_over_budget():
    waiting = [W(5, 1), W(300, 0), W(6, 2)]
    assert pick_batch(waiting, 100) == [1]  # never starved, even past the budget


def test_similar_lengths_grouped_around_the_oldest():
    waiting = [W(10, 0), W(100, 1), W(11, 2), W(99, 3), W(12, 4), W(98, 5)]
    assert sorted(pick_batch(waiting, 40)) == [0, 2, 4]  # 3 x 12 = 36; a 98 would cost 392
    waiting = [W(30, 0), W(10, 1), W(29, 2), W(11, 3), W(28, 4)]
    assert sorted(pick_batch(waiting, 90)) == [0, 2, 4]


def test_shorter_neighbours_taken_when_longer_do_not_fit():
    waiting = [W(25, 0), W(45, 1), W(20, 2), W(22, 3)]
    assert sorted(pick_batch(waiting, 75)) == [0, 2, 3]  # 3 x 25; the 45 would cost 180


def test_groups_never_mixed():
    left, right = ("left", None), ("right", None)
    waiting = [W(5, 3, right), W(5, 0, left), W(5, 1, right), W(5, 2, left)]
    batch = chosen(waiting, 1000)
    assert {w.group for w in batch} == {left}
    assert sorted(w.seq for w in batch) == [0, 2]


@pytest.mark.parametrize("seed", range(40))
def test_invariants_on_random_queues(seed):
    rng = random.Random(seed)
    groups = [("right", None), ("left", None), ("right", "query: ")]
    n = rng.randint(1, 60)
    seqs = rng.sample(range(1000), n)
    waiting = [W(rng.randint(1, 256), seqs[i], rng.choice(groups)) for i in range(n)]
    budget = rng.choice([64, 256, 512, 2048, 8192])
    idx = pick_batch(waiting, budget)
    assert idx and len(set(idx)) == len(idx)
    batch = [waiting[i] for i in idx]
    oldest = min(waiting, key=lambda w: w.seq)
    assert oldest in batch
    assert {w.group for w in batch} == {oldest.group}
    if len(batch) > 1:
        assert padded_cost([w.tokens for w in batch]) <= budget
    # A window of similar lengths: no same-group input left out lies strictly inside it.
    lo, hi = min(w.tokens for w in batch), max(w.tokens for w in batch)
    for i, w in enumerate(waiting):
        if i not in idx and w.group == oldest.group:
            assert not lo < w.tokens < hi, (w, lo, hi)
