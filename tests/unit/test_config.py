"""Settings a person gets wrong: a clear one-line error naming the flag and variable, exit 2,
before anything loads."""

from __future__ import annotations

import pytest

from embedhub.cli.main import main
from embedhub.config import Settings, SettingsError, settings_from_env


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "-1"], "--workers (EMBEDHUB_WORKERS) must be 0 or more, got -1"),
        (["--max-batch-tokens", "0"], "--max-batch-tokens (EMBEDHUB_MAX_BATCH_TOKENS) must be 1"),
        (["--port", "70000"], "--port (EMBEDHUB_PORT) must be 0-65535, got 70000"),
        (["--model", "=x"], "--model '=x': expected ID or ID=PATH"),
        (["--model", "a=/x", "--model", "a=/y"], "must name each model once, got ['a', 'a']"),
        (["--model-alias", "ada"], "--model-alias 'ada': expected NAME=MODEL"),
        (
            ["--model-alias", "ada=nope"],
            "--model-alias (EMBEDHUB_MODEL_ALIASES) ada=nope: 'nope' is not a served model",
        ),
        (
            ["--model-alias", "all-MiniLM-L6-v2=sentence-transformers/all-MiniLM-L6-v2"],
            "'all-MiniLM-L6-v2' already names a served model or another alias",
        ),
        (
            ["--model-alias", "a=all-MiniLM-L6-v2", "--model-alias", "a=all-MiniLM-L6-v2"],
            "'a' already names a served model or another alias",
        ),
    ],
)
def test_bad_serve_flags(tmp_path, capsys, args, message):
    assert main(["serve", "--data-dir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("embedhub serve: ") and message in err
    assert "Traceback" not in err


def test_bad_environment_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EMBEDHUB_WORKERS", "two")
    assert main(["serve", "--data-dir", str(tmp_path)]) == 2
    assert "EMBEDHUB_WORKERS='two': expected a whole number" in capsys.readouterr().err


def test_flag_wins_over_environment(monkeypatch):
    monkeypatch.setenv("EMBEDHUB_WORKERS", "3")
    assert settings_from_env().workers == 3
    assert settings_from_env(workers=1).workers == 1
    with pytest.raises(SettingsError, match="--cache-size"):
        Settings(cache_size=-1)
