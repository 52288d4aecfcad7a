"""Progress output: which kind a stream gets, and what the lines and the bar say."""

from __future__ import annotations

import io

from embedhub.bulk.progress import PlainProgress, Progress, RichProgress, make_progress


class Terminal(io.StringIO):
    """A text stream that says it is a terminal, as a real TTY's stderr does."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_live_bar_with_rows_rate_eta_and_shard():
    stream = Terminal()
    bar = make_progress(quiet=False, total_rows=1000, total_bytes=None, stream=stream)
    assert isinstance(bar, RichProgress)
    bar.advance(250, 250, "part-000003.parquet")
    bar.close()
    out = stream.getvalue()
    assert "250 rows" in out and "rows/s" in out and "part-000003.parquet" in out
    assert "25%" in out


def test_a_pipe_gets_plain_periodic_lines_with_an_eta_from_bytes():
    stream = io.StringIO()
    plain = make_progress(quiet=False, total_rows=None, total_bytes=4000, stream=stream)
    assert isinstance(plain, PlainProgress)
    plain.every = 0  # a line on every update instead of every 5 s
    plain.add_bytes(1000)
    plain.advance(100, 90, "part-000000.parquet")
    line = stream.getvalue().strip()
    assert line.startswith("embed: 100 rows") and "90 embedded" in line
    assert "25%" in line and "ETA" in line and "rows/s" in line and "part-000000" in line
    assert "\x1b[" not in line  # no terminal control codes in logs


def test_quiet_prints_nothing():
    stream = Terminal()
    quiet = make_progress(quiet=True, total_rows=10, total_bytes=None, stream=stream)
    assert type(quiet) is Progress
    quiet.advance(10, 10, "x")
    quiet.close()
    assert stream.getvalue() == ""
