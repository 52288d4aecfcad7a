"""split_by_length: a batch is split where padding would cost more than another forward pass."""

from embedhub.engine.batching import split_by_length


def test_similar_lengths_stay_in_one_pass():
    assert split_by_length([10, 12, 11, 13], call_overhead_tokens=48) == [[0, 2, 1, 3]]


def test_a_long_input_gets_its_own_pass_when_padding_costs_more():
    # Padding three 10-token inputs to 200 wastes 570 tokens; a pass costs 48.
    passes = split_by_length([10, 200, 10, 10], call_overhead_tokens=48)
    assert passes == [[0, 2, 3], [1]]


def test_no_overhead_means_every_length_its_own_pass_and_infinite_means_one():
    lengths = [5, 50, 100]
    assert split_by_length(lengths, call_overhead_tokens=0) == [[0], [1], [2]]
    assert split_by_length(lengths, call_overhead_tokens=10**9) == [[0, 1, 2]]


def test_every_input_lands_in_exactly_one_pass():
    lengths = [7, 256, 3, 90, 91, 12, 256, 40]
    passes = split_by_length(lengths, call_overhead_tokens=48)
    assert sorted(i for p in passes for i in p) == list(range(len(lengths)))
    for p in passes:  # each pass is length-sorted, passes are in ascending length
        assert [lengths[i] for i in p] == sorted(lengths[i] for i in p)
