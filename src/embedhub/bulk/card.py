"""The README.md dataset card: YAML front matter that `datasets` reads (configs, features,
split sizes) and a short description of how the embeddings were made."""

from __future__ import annotations

import datetime
from typing import Any

import pyarrow as pa
from huggingface_hub import DatasetCard, DatasetCardData

from embedhub.bulk.config import EXTENSIONS
from embedhub.bulk.embedders import EmbedderInfo
from embedhub.cardmeta import BLOCK, EmbeddingMeta


def make_card(
    *,
    schema: pa.Schema,
    rows: int,
    num_bytes: int,
    fmt: str,
    model: EmbedderInfo,
    embedding_column: str,
    command: str,
    text: str | None = None,
    id_column: str | None = None,
) -> str:
    """`text`: the text column or template the vectors were made from."""
    meta = EmbeddingMeta(
        model=model.model_id,
        dimension=model.dimension,
        embedding_column=embedding_column,
        normalized=model.normalized,
        text=text,
        id_column=id_column,
        runtime=model.runtime,
        model_precision=model.precision,
        quality=model.quality,
    )
    # What search needs to embed a query the same way, under its own key in the card's YAML.
    extra: dict[str, Any] = {BLOCK: meta.to_dict()}
    data = DatasetCardData(
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": f"data/train-*.{EXTENSIONS[fmt]}"}],
            }
        ],
        tags=["embeddings", "embedhub"],
        **extra,
    )
    # `datasets` takes a second or more to import; every `embedhub` command builds the embed
    # parser (which reads bulk's defaults), so it is imported only when a card is made.
    from datasets import Features
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo

    info = DatasetInfo(features=Features.from_arrow_schema(schema))
    splits = SplitDict()
    splits.add(SplitInfo("train", num_bytes=num_bytes, num_examples=rows))
    info.splits = splits
    info.download_size = info.dataset_size = num_bytes
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    return str(
        DatasetCard(f"---\n{data.to_yaml()}\n---\n{_body(rows, model, embedding_column, command)}")
    )


def _runtime_rows(model: EmbedderInfo) -> str:
    """Table rows on how the vectors were computed: runtime, precision, and for int8 the
    quality report it passed (against fp32, on held-out texts)."""
    if model.runtime is None:
        return ""
    rows = f"| runtime | {model.runtime} |\n| precision | {model.precision} |\n"
    q = model.quality
    if q:
        rows += (
            f"| int8 quality | mean cosine to fp32 {q['mean_cosine']:.4f} (min "
            f"{q['min_cosine']:.4f}), top-10 neighbour agreement {q['top10_agreement']:.3f} "
            f"over {q['queries']} held-out queries; calibration: {q['calibration']}; "
            f"recipe {q['recipe']} |\n"
        )
    return rows


def _body(rows: int, model: EmbedderInfo, column: str, command: str) -> str:
    norm = {True: "L2-normalised (the model's own)", False: "not normalised", None: "as served"}
    made = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""
# Embeddings

{rows:,} rows, each with an `{column}` column: a {model.dimension}-dimensional float32 vector
from [`{model.model_id}`](https://huggingface.co/{model.model_id}).

| | |
|---|---|
| model | `{model.model_id}` |
| dimension | {model.dimension} |
| normalisation | {norm[model.normalized]} |
| rows | {rows} |
| computed | {model.source} |
{_runtime_rows(model)}| made | {made} |

Made with:

```
{command}
```

Load it with `datasets.load_dataset("<this folder or repo>")`.
"""
