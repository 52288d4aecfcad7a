"""The flags are made from the settings' declarations: serve and embed share the model
settings, each flag's help shows its real default and variable, and the README lists them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from embedhub.backends import DEFAULT_RUNTIME, RUNTIMES
from embedhub.cli.main import build_parser, main
from embedhub.cli.options import settings_from_args
from embedhub.config import Settings, declarations, env_of, flag_of

README = Path(__file__).parents[2] / "README.md"


def test_embed_and_serve_share_the_model_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBEDHUB_ONNX_CACHE_DIR", raising=False)  # set by conftest.py
    parser = build_parser()
    for command in (["serve"], ["embed", "in.csv", "-o", "out"]):
        args = parser.parse_args(
            [*command, "--data-dir", str(tmp_path), "--runtime", "torch", "--threads", "3"]
        )
        settings = settings_from_args(args)
        assert (settings.runtime, settings.threads) == ("torch", 3)
        assert settings.onnx_cache == tmp_path / "onnx"  # what --data-dir means for embed
    assert Settings().runtime == DEFAULT_RUNTIME == next(iter(RUNTIMES))


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("serve", "--max-batch-tokens MAX_BATCH_TOKENS padded tokens"),
        ("serve", "(default: 8192; $EMBEDHUB_MAX_BATCH_TOKENS)"),
        ("serve", "(default: 2000000; $EMBEDHUB_PAYLOAD_LIMIT)"),
        ("embed", f"(default: {DEFAULT_RUNTIME}; $EMBEDHUB_RUNTIME)"),
        ("embed", "(default: the shipped corpus; $EMBEDHUB_CALIBRATION)"),
        ("embed", "(default: ~/.embedhub; $EMBEDHUB_HOME)"),
    ],
)
def test_help_shows_the_declared_default_and_variable(capsys, command, expected):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert expected in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", [["serve"], ["embed", "in.csv", "-o", "out"]])
def test_a_bad_runtime_is_one_line_naming_flag_and_variable(tmp_path, capsys, command):
    assert main([*command, "--data-dir", str(tmp_path), "--runtime", "tpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    allowed = ", ".join(RUNTIMES)
    assert f"--runtime (EMBEDHUB_RUNTIME) must be one of {allowed}, got 'tpu'" in err


def test_a_bad_flag_value_names_the_variable_too(tmp_path, capsys):
    assert main(["serve", "--data-dir", str(tmp_path), "--port", "http"]) == 2
    assert "--port 'http': expected a whole number (EMBEDHUB_PORT)" in capsys.readouterr().err


def test_push_and_pull_take_no_data_dir(tmp_path):
    for command in (["push", "folder", "a/b"], ["pull", "a/b", "folder"]):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([*command, "--data-dir", str(tmp_path)])
        assert exit_.value.code == 2


def test_the_readme_lists_every_setting():
    readme = README.read_text()
    for field in dataclasses.fields(Settings):
        assert f"| `{flag_of(field.name)}" in readme and f"`{env_of(field.name)}`" in readme
    assert list(declarations()) == [f.name for f in dataclasses.fields(Settings)]


def test_building_the_parser_loads_neither_pyarrow_nor_the_bulk_machinery():
    """Every command builds the whole parser first: `embedhub --help` took ~0.9 s while the
    embed command's choices came from the modules that read and write files (0.3 s since)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom embedhub.cli.main import build_parser\nbuild_parser()\n"
        "print(sorted({'pyarrow', 'embedhub.bulk.job', 'torch'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
