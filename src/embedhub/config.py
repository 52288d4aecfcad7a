"""One frozen Settings object. Every field is also an EMBEDHUB_<FIELD> environment variable;
a command-line flag wins over the variable, which wins over the default here."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from embedhub.backends import DEFAULT_RUNTIME, PRECISIONS, RUNTIMES
from embedhub.types import ModelSpec, QualityGate

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def default_data_dir() -> Path:
    return Path(os.environ.get("EMBEDHUB_HOME", "~/.embedhub")).expanduser()


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8080
    # The URL clients reach this server at; used in URLs the server hands out (repo URLs, LFS
    # upload links). Empty means "derive it from the request's Host header".
    public_url: str = ""
    models: tuple[ModelSpec, ...] = (ModelSpec(DEFAULT_MODEL_ID),)
    # Padded tokens (longest input x inputs) one forward pass may hold.
    max_batch_tokens: int = 8192
    # Requests admitted at once (queued or running); the next one gets 429 at once.
    max_concurrent_requests: int = 512
    # Inputs one request may carry.
    max_client_batch_size: int = 2048
    # Bytes one embedding request body may have (hub uploads have their own limit).
    payload_limit: int = 2_000_000
    # Inference needs a token even on loopback.
    require_token: bool = False
    # Entries in the in-memory embedding cache; 0 turns it off.
    cache_size: int = 100_000
    # Threads the model runtime uses in all; 0 means one per CPU core.
    threads: int = 0
    # Forward passes run at once per model, sharing `threads` between them; 0 means two (when
    # there are two threads to share). Small passes leave a runtime's own threads idle, so two
    # single-threaded workers outrun one two-threaded worker on a 2-core machine.
    workers: int = 0
    # Model runtime, one of embedhub.backends.RUNTIMES: "openvino" (the default) and "onnx" run
    # the transformer converted once to a graph (same vectors, far less overhead per forward
    # pass; falls back to torch for a model the converter can't take), "torch" runs
    # sentence-transformers as is.
    runtime: str = DEFAULT_RUNTIME
    # "fp32" (exact) or "int8" (openvino only: quantized once, calibrated on real text, served
    # only if its quality report passes `min_quality`).
    precision: str = "fp32"
    # int8: a UTF-8 file of calibration texts, one per line (default: the shipped corpus).
    calibration: Path | None = None
    # int8: the least quality served, "MEAN_COSINE,TOP10_AGREEMENT" against fp32 on held-out
    # texts.
    min_quality: str = "0.995,0.95"
    # Where converted graphs are kept (default DATA_DIR/onnx); servers may share one.
    onnx_cache_dir: Path | None = None
    # Files at least this large are stored as Git LFS objects in hub repos.
    lfs_threshold: int = 10 * 1024 * 1024
    # Bytes one hub commit body or git push/fetch request may have.
    hub_payload_limit: int = 2 * 1024 * 1024 * 1024
    # Bytes one hub JSON body may have (repo API, LFS batch and verify): enough for
    # thousands of paths, small enough that no hostile JSON can cost much memory.
    hub_json_limit: int = 4 * 1024 * 1024
    # Bytes one LFS object may have (checked when the batch API is asked for an upload link).
    hub_lfs_object_limit: int = 50 * 1024 * 1024 * 1024
    # Rows from which a dataset split also gets an approximate search index (built in the
    # background; queries are answered exactly until it is ready).
    search_approx_threshold: int = 200_000
    # Seconds a search index superseded by newer data of the same branch is kept after its
    # last use (in-flight queries finish on it), then removed.
    search_index_grace: float = 60.0

    @property
    def quality_gate(self) -> QualityGate:
        cosine, agreement = (float(x) for x in self.min_quality.split(","))
        return QualityGate(cosine, agreement)

    @property
    def onnx_cache(self) -> Path:
        return self.onnx_cache_dir or self.data_dir / "onnx"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "embedhub.db"

    @property
    def on_loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")

    @property
    def inference_needs_token(self) -> bool:
        return self.require_token or not self.on_loopback

    def __post_init__(self) -> None:
        for name, low in _MINIMUM.items():
            value = getattr(self, name)
            if value < low:
                raise SettingsError(f"{_names(name)} must be {low} or more, got {value}")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"{_names('port')} must be 0-65535, got {self.port}")
        ids = [m.model_id for m in self.models]
        if not ids or len(set(ids)) != len(ids):
            raise SettingsError(f"{_names('models')} must name each model once, got {ids}")
        if self.runtime not in RUNTIMES:
            choices = ", ".join(RUNTIMES)
            raise SettingsError(
                f"{_names('runtime')} must be one of {choices}, got {self.runtime!r}"
            )
        self._check_precision()

    def _check_precision(self) -> None:
        if self.precision not in PRECISIONS:
            choices = ", ".join(PRECISIONS)
            raise SettingsError(
                f"{_names('precision')} must be one of {choices}, got {self.precision!r}"
            )
        if self.runtime not in PRECISIONS[self.precision]:
            runtimes = " or ".join(PRECISIONS[self.precision])
            raise SettingsError(
                f"{_names('precision')} {self.precision} needs {_names('runtime')} {runtimes}, "
                f"got {self.runtime}"
            )
        try:
            gate: QualityGate | None = self.quality_gate
        except ValueError:
            gate = None
        if gate is None or not all(0 <= x <= 1 for x in (gate.mean_cosine, gate.top10_agreement)):
            raise SettingsError(
                f"{_names('min_quality')} must be MEAN_COSINE,TOP10_AGREEMENT with both "
                f"between 0 and 1 (e.g. 0.995,0.95), got {self.min_quality!r}"
            )

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class SettingsError(ValueError):
    """A setting a person gave that can't be used; the message names the flag and variable."""


# The smallest value each numeric setting may take.
_MINIMUM = {
    "max_batch_tokens": 1,
    "max_concurrent_requests": 1,
    "max_client_batch_size": 1,
    "payload_limit": 1,
    "cache_size": 0,
    "threads": 0,
    "workers": 0,
    "lfs_threshold": 0,
    "hub_payload_limit": 1,
    "hub_json_limit": 1,
    "hub_lfs_object_limit": 1,
    "search_approx_threshold": 1,
    "search_index_grace": 0,
}


_KIND_WORDS = {int: "a whole number", float: "a number"}


def _names(field_name: str) -> str:
    flag = "model" if field_name == "models" else field_name  # the one repeatable flag
    return f"--{flag.replace('_', '-')} (EMBEDHUB_{field_name.upper()})"


def parse_model(text: str) -> ModelSpec:
    """`ID` or `ID=PATH`."""
    model_id, sep, path = text.partition("=")
    if not model_id:
        raise SettingsError(f"--model {text!r}: expected ID or ID=PATH")
    return ModelSpec(model_id, path if sep else None)


def _coerce(value: str, kind: type) -> object:
    if kind is bool:
        return value.strip().lower() in ("1", "true", "yes", "on")
    if kind is Path:
        return Path(value).expanduser()
    return kind(value)


def settings_from_env(**overrides: object) -> Settings:
    """Settings from EMBEDHUB_* variables, then `overrides` (flags given on the command line;
    a `None` override means "not given")."""
    values: dict[str, object] = {}
    types = {"data_dir": Path, "onnx_cache_dir": Path, "calibration": Path, "models": None}
    for f in dataclasses.fields(Settings):
        raw = os.environ.get(f"EMBEDHUB_{f.name.upper()}")
        if raw is None:
            continue
        if f.name == "models":
            values["models"] = tuple(parse_model(m) for m in raw.split(",") if m.strip())
        else:
            kind = types.get(f.name) or type(getattr(Settings(), f.name))
            try:
                values[f.name] = _coerce(raw, kind)
            except ValueError:
                expected = _KIND_WORDS.get(kind, kind.__name__)
                raise SettingsError(
                    f"EMBEDHUB_{f.name.upper()}={raw!r}: expected {expected}"
                ) from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    for name in ("data_dir", "calibration"):
        if name in values:
            values[name] = Path(str(values[name])).expanduser()
    return Settings(**values)  # type: ignore[arg-type]
