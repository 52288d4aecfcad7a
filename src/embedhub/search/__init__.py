"""Search over hosted datasets: which files make which split (layout), a split's data laid out
for random access (views), exact and approximate nearest-neighbour search (exact, approx),
full-text search (fulltext), `where` filters (where), and the manager that builds, serves and
removes all of it (indexes). Knows no HTTP; embedhub.viewer puts it on the wire."""
