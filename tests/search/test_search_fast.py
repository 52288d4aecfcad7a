"""What makes a search fast without changing its answer: ref names resolved from the ref
files' bytes (git itself is the reference at every step), and exact search's 8-bit first
pass (always the full float32 scan's answer, near-ties and odd rows included)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from sentence_transformers.util import semantic_search

from embedhub.hub.gitrepo import GitRepo
from embedhub.hub.refcache import RefCache
from embedhub.search import prefilter
from embedhub.search.exact import ExactScanner, scan, unit
from embedhub.search.views import Vectors, open_view

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from vectors import clustered


# --- ref names ---------------------------------------------------------------------------------
def _commit(repo: GitRepo, parent: str | None, message: str) -> str:
    tree = repo.run("mktree", input=b"").decode().strip()
    return repo.commit_tree(tree, parent, message, "alice")


class _Counting(GitRepo):
    """A real repo that counts how often git is asked to resolve a name."""

    calls = 0

    def resolve(self, rev: str) -> str | None:
        self.calls += 1
        return super().resolve(rev)


def test_ref_names_resolve_as_git_does_after_every_change(tmp_path: Path) -> None:
    GitRepo.init(tmp_path / "r.git")
    repo = _Counting(tmp_path / "r.git")
    cache = RefCache()
    c1 = _commit(repo, None, "one")
    c2 = _commit(repo, c1, "two")
    names = ["main", "refs/heads/main", "v1", "HEAD", "nope", c1, c1[:8], "../r.git/HEAD"]

    def agrees() -> None:
        for name in names:
            assert cache.resolve(repo, name) == GitRepo(repo.path).resolve(name), name

    assert repo.update_ref("main", c1, None)
    agrees()
    before = repo.calls
    assert cache.resolve(repo, "main") == c1
    assert repo.calls == before  # unchanged ref files: no git process
    assert repo.update_ref("main", c2, c1)  # a push: seen at once
    agrees()
    assert repo.update_ref("main", c1, c2)  # ... and moving back, too (same bytes as before)
    agrees()
    repo.run("pack-refs", "--all", "--prune")  # the branch now lives in packed-refs only
    agrees()
    assert repo.delete_ref("refs/heads/main", c1)  # rewrites packed-refs, no loose file moves
    agrees()
    assert repo.update_ref("main", c1, None)
    repo.run("pack-refs", "--all", "--prune")
    assert repo.update_ref("main", c2, c1)  # a loose file again, shadowing packed-refs
    agrees()
    assert repo.set_ref("refs/tags/v1", c1, None)
    agrees()
    assert repo.set_ref("refs/tags/main", c1, None)  # git prefers a tag to a same-named branch
    agrees()
    assert cache.resolve(repo, "main") == c1
    assert repo.delete_ref("refs/tags/main", c1) and repo.delete_ref("refs/heads/main", c2)
    agrees()
    assert cache.resolve(repo, "main") is None


# --- exact search's first pass -----------------------------------------------------------------
def _view(tmp_path: Path, data: np.ndarray, missing: tuple[int, ...] = ()) -> Vectors:
    values = [None if i in missing else row.tolist() for i, row in enumerate(data)]
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "train-00000-of-00001.parquet"
    table = pa.table({"embedding": pa.array(values, pa.list_(pa.float32(), data.shape[1]))})
    pq.write_table(table, path, row_group_size=1000)
    return open_view(tmp_path / "view", [path]).vectors["embedding"]


def _tricky(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Clustered rows of mixed norms, with exact duplicates and near-ties (1e-7 apart), a zero
    vector, a NaN row and a huge one; queries include a duplicated row itself."""
    data, queries = clustered(n, dim, 12, seed=seed)
    rng = np.random.default_rng(seed)
    data *= rng.uniform(0.2, 3, (n, 1)).astype(np.float32)
    data[100:130] = data[5]  # 31 equal rows: ties straddle the k-th place for k = 10, 25
    data[200:230] = data[5] + rng.standard_normal((30, dim)).astype(np.float32) * 1e-7
    data[7] = 0
    data[8, 3] = np.nan
    data[9] *= 1e35
    return data, np.concatenate([queries, data[[5, 5]], data[[200]] * 2.5])


def _same_answer(got: tuple, want: tuple, tol: float = 1e-6) -> None:
    """Equal, ties aside: the same scores, and the same row wherever its score is not tied
    (within float rounding) with another row's."""
    (ids, scores), (want_ids, want_scores) = got, want
    assert np.allclose(scores, want_scores, atol=tol, equal_nan=True)
    for i, s in enumerate(want_scores):
        if np.sum(np.abs(want_scores - s) <= tol) == 1 and not np.isclose(want_scores[-1], s):
            assert ids[i] == want_ids[i], (i, ids, want_ids)


def test_first_pass_gives_the_full_scans_answer(tmp_path: Path) -> None:
    data, queries = _tricky(6000, 48, seed=7)
    vec = _view(tmp_path, data, missing=(11,))
    for shards in (1, 2, 3):  # row ranges scanned on threads of their own
        first = prefilter.build(vec, shards)
        assert set(first.odd.tolist()) == {8, 9} and len(first.shards) == shards
        for q in queries:
            for k in (1, 10, 25, 100):
                found = first.search(vec, unit(q), k)
                assert found is not None
                _same_answer(found, scan(vec, unit(q)[None], k)[0])
    # ... and so semantic_search's (clean rows: no NaN, no overflow)
    clean = np.delete(data, [8, 9], axis=0)
    vec = _view(tmp_path / "clean", clean)
    first = prefilter.build(vec)
    refs = semantic_search(torch.from_numpy(queries), torch.from_numpy(clean), top_k=10)
    for q, ref in zip(queries, refs, strict=True):
        ids, scores = ExactScanner().search(vec, unit(q), 10, first)
        want = (np.array([h["corpus_id"] for h in ref]), np.array([h["score"] for h in ref]))
        _same_answer((ids, scores), want, tol=1e-5)


def test_first_pass_bound_holds_for_every_row(tmp_path: Path) -> None:
    """The proof's premise, checked on faiss's own numbers: |true cosine - faiss's score| is
    within each row's radius, for every row."""
    data, queries = _tricky(3000, 384, seed=8)
    vec = _view(tmp_path, data)
    first = prefilter.build(vec, 2)
    units = data.astype(np.float64) * np.asarray(vec.scale, np.float64)[:, None]
    index = first.shards[0].index  # rows 10-60: in the first shard
    # Queries along some rows' own quantisation error reach the Cauchy-Schwarz bound.
    errors = units[10:60] - index.sa_decode(index.sa_encode(units[10:60].astype(np.float32)))
    for q in [*queries, *errors.astype(np.float32)]:
        q = unit(q)
        approx, ids = first._first_pass(q[None], len(data))[:2]  # every row's score
        assert sorted(ids.tolist()) == list(range(len(data)))
        truth = units[ids] @ q.astype(np.float64)
        ok = np.isfinite(first.radius[ids])
        assert ok.sum() == len(data) - 2
        assert np.all(np.abs(truth - approx)[ok] <= first.radius[ids][ok])


def test_first_pass_gives_up_when_it_rules_out_nothing(tmp_path: Path) -> None:
    """Rows all within the quantisation error of each other: no bound separates them, so
    the search says so and the scanner scans in full (same answer)."""
    rng = np.random.default_rng(9)
    base = rng.standard_normal(32).astype(np.float32)
    data = base + rng.standard_normal((4000, 32)).astype(np.float32) * 1e-4
    vec = _view(tmp_path, data)
    first = prefilter.build(vec)
    q = unit(rng.standard_normal(32).astype(np.float32))
    assert first.search(vec, q, 10) is None
    scanner = ExactScanner()
    _same_answer(scanner.search(vec, q, 10, first), scan(vec, q[None], 10)[0])
    assert scanner.scans == 1
