"""Small models of the kinds no package here ships: a reranker (one-output cross-encoder), a
classifier (three labels) and a SPLADE model, built from a tiny BERT config with the bundled
model's tokenizer and random weights, saved the ways users' models come:

- the reranker as transformers saves it (config.json says ...ForSequenceClassification),
- the classifier as sentence-transformers' CrossEncoder saves it,
- the SPLADE model as sentence-transformers' SparseEncoder saves it.

A module of its own (not conftest.py) so that unit and API tests build them the same way."""

from __future__ import annotations

from pathlib import Path

CLASSIFIER_LABELS = ("negative", "neutral", "positive")


def build_models(root: Path) -> dict[str, Path]:
    """{"reranker", "classifier", "sparse"} -> the folder of each, under `root`."""
    import torch
    from sentence_transformers import CrossEncoder, SparseEncoder
    from sentence_transformers.base.modules.transformer import Transformer
    from sentence_transformers.sparse_encoder.modules import SpladePooling
    from transformers import (
        AutoTokenizer,
        BertConfig,
        BertForMaskedLM,
        BertForSequenceClassification,
    )

    from embedhub.models import bundled_model_path

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_model_path()))
    small = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    paths = {name: root / name for name in ("reranker", "classifier", "sparse")}

    reranker = BertForSequenceClassification(BertConfig(num_labels=1, **small))
    reranker.save_pretrained(paths["reranker"])
    tokenizer.save_pretrained(paths["reranker"])

    id2label = dict(enumerate(CLASSIFIER_LABELS))
    label2id = {v: k for k, v in id2label.items()}
    config = BertConfig(num_labels=3, id2label=id2label, label2id=label2id, **small)
    raw = root / "classifier-raw"
    BertForSequenceClassification(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    CrossEncoder(str(raw), device="cpu", local_files_only=True).save_pretrained(
        str(paths["classifier"])
    )

    mlm = BertForMaskedLM(BertConfig(**small))
    with torch.no_grad():  # most logits below zero, so relu leaves a sparse vector
        mlm.cls.predictions.bias.fill_(-0.3)
    raw = root / "sparse-raw"
    mlm.save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    modules = [Transformer(str(raw), transformer_task="fill-mask"), SpladePooling("max")]
    SparseEncoder(modules=modules, device="cpu").save_pretrained(str(paths["sparse"]))
    return paths
