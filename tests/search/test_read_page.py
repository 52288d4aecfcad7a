"""read_page: any page of a split, across files and row groups of any size, equals the same
slice of the whole table; a page past the end is None."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embedhub.viewer.rows import PAGE_BATCH_ROWS, read_page


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    folder = tmp_path_factory.mktemp("split")
    n = 2500 + 3 * PAGE_BATCH_ROWS + 200  # b: three batches and a bit, in one row group
    table = pa.table({"id": list(range(n)), "text": [f"row {i}" for i in range(n)]})
    paths = []
    # One file of small row groups, one written as a single row group (pyarrow's default
    # for a file this size), one of a single short row group.
    for name, part, group in [
        ("a", table.slice(0, 2500), 700),
        ("b", table.slice(2500, n - 2600), None),
        ("c", table.slice(n - 100), None),
    ]:
        path = folder / f"{name}.parquet"
        pq.write_table(part, path, row_group_size=group)
        paths.append(path)
    return paths, table


@pytest.mark.parametrize(
    ("offset", "length"),
    [
        (0, 100),
        (650, 100),
        (2450, 100),
        (2500, 1),
        (2500 + PAGE_BATCH_ROWS - 3, 10),
        (3000, 100),
        (2600, 2 * PAGE_BATCH_ROWS),
    ],
)
def test_a_page_is_the_same_slice_of_the_whole(split, offset, length):
    paths, table = split
    page = read_page(paths, offset, length)
    assert page is not None
    assert page.to_pylist() == table.slice(offset, length).to_pylist()


def test_the_last_rows_and_past_the_end(split):
    paths, table = split
    n = table.num_rows
    assert read_page(paths, n - 30, 100).to_pylist() == table.slice(n - 30).to_pylist()
    assert read_page(paths, n, 100) is None
