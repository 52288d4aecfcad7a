"""One frozen Settings object, and the one declaration of each setting: its field here holds
the default, the help text, the checks and which commands take it. The command-line flags
(`cli/options.py`) and the EMBEDHUB_* variables are made from these declarations; a flag wins
over its variable, which wins over the default.

To add a setting: add a field with `setting(...)` below. `serve` gets the flag (and `embed`
too when `group="model"`), the variable is read, the value is checked, and `--help` shows the
default."""

from __future__ import annotations

import dataclasses
import functools
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedhub.backends import DEFAULT_RUNTIME, PRECISIONS, RUNTIMES
from embedhub.models import DEFAULT_MODEL_ID
from embedhub.types import ModelSpec, QualityGate

__all__ = [
    "DEFAULT_MODEL_ID",
    "Settings",
    "SettingsError",
    "parse_alias",
    "parse_model",
    "settings_from_env",
]

# Which commands take a setting: "common" every command with local state, "model" the ones
# that load a model (serve and embed), "server" serve alone.
GROUPS = ("common", "model", "server")


class SettingsError(ValueError):
    """A setting a person gave that can't be used; the message names the flag and variable."""


@dataclass(frozen=True)
class Declaration:
    help: str
    group: str = "server"
    flag: str | None = None  # default: the field name, `--like-this`
    env: str | None = None  # default: EMBEDHUB_<FIELD NAME>
    metavar: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    shown_default: str | None = None  # when the value itself says less (a computed default)
    parse: Callable[[str], Any] | None = None  # text -> value; default: by the field's type
    repeat: bool = False  # the flag may be given several times; the variable is comma-separated


def setting(default: Any = dataclasses.MISSING, **declared: Any) -> Any:
    """A Settings field with its declaration. A mutable or computed default: pass a callable
    as `default_factory`."""
    factory = declared.pop("default_factory", dataclasses.MISSING)
    metadata = {"setting": Declaration(**declared)}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def parse_model(text: str) -> ModelSpec:
    """`ID` or `ID=PATH`."""
    model_id, sep, path = text.partition("=")
    if not model_id:
        raise SettingsError(f"--model {text!r}: expected ID or ID=PATH")
    return ModelSpec(model_id, path if sep else None)


def parse_alias(text: str) -> tuple[str, str]:
    """`NAME=MODEL`."""
    name, sep, model_id = (part.strip() for part in text.partition("="))
    if not (name and sep and model_id):
        raise SettingsError(f"--model-alias {text!r}: expected NAME=MODEL")
    return name, model_id


@dataclass(frozen=True)
class Settings:
    data_dir: Path = setting(
        default_factory=lambda: Path("~/.embedhub").expanduser(),
        help="where the database, hub repos, LFS objects and the ONNX cache are kept",
        group="common",
        env="EMBEDHUB_HOME",
        shown_default="~/.embedhub",
    )
    models: tuple[ModelSpec, ...] = setting(
        (ModelSpec(DEFAULT_MODEL_ID),),
        help="a model: an id (the bundled default, a local folder, the HF cache, or a download) "
        "or ID=PATH for a local sentence-transformers folder. serve takes several (repeat the "
        "flag; the first is the default model); embed takes one",
        group="model",
        flag="model",
        metavar="ID[=PATH]",
        parse=parse_model,
        repeat=True,
        shown_default=DEFAULT_MODEL_ID,
    )
    # Clients that hard-code a vendor's model name (langchain's OpenAIEmbeddings sends
    # text-embedding-ada-002) reach a served model under that name; other unknown names
    # stay 404.
    model_aliases: tuple[tuple[str, str], ...] = setting(
        (),
        help="another name a served model answers to, e.g. "
        "text-embedding-ada-002=sentence-transformers/all-MiniLM-L6-v2 (repeat the flag)",
        flag="model_alias",
        metavar="NAME=MODEL",
        parse=parse_alias,
        repeat=True,
        shown_default="none",
    )
    # One of embedhub.backends.RUNTIMES: "openvino" (the default) and "onnx" run the
    # transformer converted once to a graph (same vectors, far less overhead per forward pass;
    # torch for a model the converter can't take), "torch" runs sentence-transformers as is.
    runtime: str = setting(
        DEFAULT_RUNTIME,
        help="model runtime: a graph runtime gives the same vectors with less overhead per "
        "batch (converted on first use, cached in the data dir); torch is "
        "sentence-transformers as is",
        group="model",
        choices=tuple(RUNTIMES),
    )
    precision: str = setting(
        "fp32",
        help="fp32 (exact) or int8 (openvino: quantized once, served only if its quality "
        "report on held-out texts passes --min-quality)",
        group="model",
        choices=tuple(PRECISIONS),
    )
    calibration: Path | None = setting(
        None,
        help="int8: calibration texts, one per line",
        group="model",
        metavar="FILE",
        shown_default="the shipped corpus",
    )
    min_quality: str = setting(
        "0.995,0.95",
        help="int8: the least mean cosine to fp32 and top-10 neighbour agreement served",
        group="model",
        metavar="COS,TOP10",
    )
    onnx_cache_dir: Path | None = setting(
        None,
        help="where exported ONNX graphs are kept; several servers may share one",
        group="model",
        shown_default="DATA_DIR/onnx",
    )
    threads: int = setting(
        0, help="model runtime threads in all (0: one per CPU core)", group="model", minimum=0
    )
    host: str = setting(
        "127.0.0.1", help="address to bind; any non-loopback address makes tokens mandatory"
    )
    port: int = setting(8080, help="port to listen on", minimum=0, maximum=65535)
    # Used in URLs the server hands out (repo URLs, LFS upload links).
    public_url: str = setting(
        "",
        help="the URL clients reach this server at, when behind a proxy",
        shown_default="from each request's Host header",
    )
    max_batch_tokens: int = setting(
        8192,
        help="padded tokens (longest input x inputs) per forward pass; inputs over 32 tokens "
        "share a pass by this x 32 attention cells (inputs x longest^2), which bounds memory",
        minimum=1,
    )
    max_concurrent_requests: int = setting(
        512,
        help="requests admitted at once (queued or running); the next gets 429 at once",
        minimum=1,
    )
    max_client_batch_size: int = setting(2048, help="inputs one request may carry", minimum=1)
    # OpenAI's own limit per embeddings request. Token ids are counted before they are
    # decoded, so a body of ids costs no more than the text it stands for.
    max_request_tokens: int = setting(
        300_000,
        help="tokens one embedding request may carry (after truncation; token ids as sent)",
        minimum=1,
    )
    payload_limit: int = setting(
        2_000_000, help="bytes one embedding request body may have", minimum=1
    )
    require_token: bool = setting(False, help="require a token for inference even on loopback")
    # What a server that wants tokens shows without one: by default only /health (load
    # balancers probe it); the model, limits, metrics and API description are a choice.
    public_metadata: bool = setting(
        False,
        help="with tokens required (--require-token or a public bind), still answer /info, "
        "/metrics, /docs and /openapi.json without one",
    )
    # The HTTP server's own limits (embedhub/http_limits.py): what one connection may cost
    # before a route sees the request.
    max_header_bytes: int = setting(
        64 * 1024, help="bytes the request line and headers of one request may have", minimum=1024
    )
    max_headers: int = setting(100, help="headers one request may have", minimum=1)
    header_timeout: float = setting(
        10.0, help="seconds a client has to send a request's line and headers", minimum=0.1
    )
    body_timeout: float = setting(
        60.0, help="seconds a request body may go without a byte arriving", minimum=0.1
    )
    # TEI's --served-model-name: what clients are told the model is called.
    served_model_name: str = setting(
        "",
        help="the model name /info reports as served_model_name",
        metavar="NAME",
        shown_default="the first --model's id",
    )
    # Browsers calling the API from another origin need CORS; off unless an origin is given.
    cors_allow_origin: tuple[str, ...] = setting(
        (),
        help="an origin (scheme://host[:port]) whose web pages may call the API, or * for any; "
        "repeat for several",
        metavar="ORIGIN",
        repeat=True,
        shown_default="none: CORS off",
    )
    cache_size: int = setting(
        100_000, help="embeddings kept in the in-memory LRU cache (0: off)", minimum=0
    )
    # Small passes leave a runtime's own threads idle, so two single-threaded workers outrun
    # one two-threaded worker on a 2-core machine.
    workers: int = setting(
        0,
        help="forward passes run at once per model, sharing --threads (0: two, when there are "
        "two threads to share)",
        minimum=0,
    )
    lfs_threshold: int = setting(
        10 * 1024 * 1024,
        help="files at least this large (bytes) are stored as Git LFS objects in hub repos",
        minimum=0,
    )
    hub_payload_limit: int = setting(
        2 * 1024 * 1024 * 1024,
        help="bytes one hub commit body or git push/fetch request may have",
        minimum=1,
    )
    # Enough for thousands of paths, small enough that no hostile JSON can cost much memory.
    hub_json_limit: int = setting(
        4 * 1024 * 1024,
        help="bytes one hub JSON body may have (repo API, LFS batch and verify)",
        minimum=1,
    )
    hub_lfs_object_limit: int = setting(
        50 * 1024 * 1024 * 1024,
        help="bytes one LFS object may have (checked when an upload link is asked for)",
        minimum=1,
    )
    # Built in the background; queries are answered exactly until it is ready.
    search_approx_threshold: int = setting(
        200_000,
        help="rows from which a dataset split also gets an approximate search index",
        minimum=1,
    )
    # Off, a pushed embedding dataset is prepared for search right after the push (viewer/warm.py).
    search_lazy: bool = setting(
        False,
        help="prepare a pushed embedding dataset for search (its view and approximate index) "
        "only when it is first queried, not right after the push",
    )
    # In-flight queries finish on the old index, then it is removed.
    search_index_grace: float = setting(
        60.0,
        help="seconds a search index superseded by newer data of the same branch is kept "
        "after its last use",
        minimum=0,
    )

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

    @property
    def metadata_needs_token(self) -> bool:
        return self.inference_needs_token and not self.public_metadata

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check(f, getattr(self, f.name))
        ids = [m.model_id for m in self.models]
        if not ids or len(set(ids)) != len(ids):
            raise SettingsError(f"{names('models')} must name each model once, got {ids}")
        self._check_aliases(ids)
        self._check_precision()

    def _check_aliases(self, ids: list[str]) -> None:
        served = {*ids, *(i.split("/")[-1] for i in ids)}  # a short name serves too
        seen: set[str] = set()
        for name, target in self.model_aliases:
            if target not in served:
                raise SettingsError(
                    f"{names('model_aliases')} {name}={target}: {target!r} is not a served "
                    f"model (served: {', '.join(ids)})"
                )
            if name in served or name in seen:
                raise SettingsError(
                    f"{names('model_aliases')} {name}={target}: {name!r} already names "
                    "a served model or another alias"
                )
            seen.add(name)

    def _check_precision(self) -> None:
        if self.runtime not in PRECISIONS[self.precision]:
            runtimes = " or ".join(PRECISIONS[self.precision])
            raise SettingsError(
                f"{names('precision')} {self.precision} needs {names('runtime')} {runtimes}, "
                f"got {self.runtime}"
            )
        try:
            gate: QualityGate | None = self.quality_gate
        except ValueError:
            gate = None
        if gate is None or not all(0 <= x <= 1 for x in (gate.mean_cosine, gate.top10_agreement)):
            raise SettingsError(
                f"{names('min_quality')} must be MEAN_COSINE,TOP10_AGREEMENT with both "
                f"between 0 and 1 (e.g. 0.995,0.95), got {self.min_quality!r}"
            )


@functools.cache
def declarations() -> dict[str, Declaration]:
    """Field name -> its declaration, in the order the fields are declared."""
    return {f.name: f.metadata["setting"] for f in dataclasses.fields(Settings)}


def flag_of(name: str) -> str:
    return "--" + (declarations()[name].flag or name).replace("_", "-")


def env_of(name: str) -> str:
    return declarations()[name].env or f"EMBEDHUB_{name.upper()}"


def names(name: str) -> str:
    """How a message names a setting: `--flag (EMBEDHUB_VARIABLE)`."""
    return f"{flag_of(name)} ({env_of(name)})"


def _check(f: dataclasses.Field, value: Any) -> None:
    d: Declaration = f.metadata["setting"]
    low, high = d.minimum, d.maximum
    if low is not None and high is not None and not low <= value <= high:
        raise SettingsError(f"{names(f.name)} must be {low}-{high}, got {value}")
    if low is not None and value < low:
        raise SettingsError(f"{names(f.name)} must be {low} or more, got {value}")
    if d.choices and value not in d.choices:
        allowed = ", ".join(d.choices)
        raise SettingsError(f"{names(f.name)} must be one of {allowed}, got {value!r}")


_KIND_WORDS = {int: "a whole number", float: "a number"}


def parse_value(name: str, text: str | list[str], source: str) -> Any:
    """`text` (from a flag or a variable, named by `source`) as the setting's value; a flag
    given several times gives a list."""
    d = declarations()[name]
    kind = _value_type(name)
    try:
        if d.repeat:
            parts = text if isinstance(text, list) else text.split(",")
            return tuple((d.parse or kind)(p.strip()) for p in parts if p.strip())
        assert isinstance(text, str)  # only a repeatable flag gives a list
        if d.parse is not None:
            return d.parse(text)
        if kind is bool:
            return text.strip().lower() in ("1", "true", "yes", "on")
        if kind is Path:
            return Path(text).expanduser()
        return kind(text)
    except SettingsError:
        raise
    except ValueError:
        expected = _KIND_WORDS.get(kind, getattr(kind, "__name__", str(kind)))
        other = env_of(name) if source.startswith("--") else flag_of(name)
        raise SettingsError(f"{source}: expected {expected} ({other})") from None


@functools.cache
def _value_type(name: str) -> Any:
    """The field's type, without `| None` (and the element type of a tuple)."""
    hint = typing.get_type_hints(Settings)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
    return args[0] if args else hint


def settings_from_env(**overrides: Any) -> Settings:
    """Settings from EMBEDHUB_* variables, then `overrides` (values given on the command line;
    a `None` override means "not given")."""
    values: dict[str, Any] = {}
    for name in declarations():
        raw = os.environ.get(env_of(name))
        if raw is not None:
            values[name] = parse_value(name, raw, f"{env_of(name)}={raw!r}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(values.get("data_dir"), str):
        values["data_dir"] = Path(values["data_dir"]).expanduser()
    return Settings(**values)
