"""The LightningModule: a sequence classifier, AdamW with linear warmup and decay, accuracy and macro-F1."""

import time

import pytorch_lightning as pl
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    BertConfig,
    get_linear_schedule_with_warmup,
)

from launcher.schema import Experiment

from .records import DataError


def build_network(exp: Experiment, model_dir, label_names: list, vocab_size: int):
    """Pretrained weights from `model_dir`, or a small random BERT when `model.random_init` is set."""
    labels = {"id2label": {i: str(n) for i, n in enumerate(label_names)},
              "label2id": {str(n): i for i, n in enumerate(label_names)}, "num_labels": len(label_names)}
    init = exp.model.random_init
    if init is None:
        # from_pretrained returns the model in eval mode, and Lightning keeps each module's mode:
        # without train() dropout would stay off for the whole fine-tuning.
        return AutoModelForSequenceClassification.from_pretrained(model_dir, **labels).train()
    config = BertConfig(vocab_size=vocab_size, hidden_size=init.hidden_size, num_hidden_layers=init.num_layers,
                        num_attention_heads=init.num_heads, intermediate_size=init.intermediate_size,
                        max_position_embeddings=max(512, exp.model.max_seq_len), **labels)
    return AutoModelForSequenceClassification.from_config(config)


UNSET_MAX_LENGTH = 10**6  # tokenizers without a model_max_length report int(1e30) (VERY_LARGE_INTEGER)


def check_sequence_length(exp: Experiment, model_dir, tokenizer) -> None:
    """Raise DataError when model.max_seq_len exceeds what the pretrained model can take: its position
    embeddings (config.json's max_position_embeddings) and its tokenizer's model_max_length, whichever is
    smaller (RoBERTa-style models have 514 positions, 2 reserved, and say 512 in the tokenizer). Found at
    start-up rather than at the first long batch, which would crash (exit 1) in every retry. A random-init
    model is not checked: build_network gives it max(512, max_seq_len) positions."""
    if exp.model.random_init is not None:
        return
    config = AutoConfig.from_pretrained(model_dir)
    limits = {"max_position_embeddings": getattr(config, "max_position_embeddings", None),
              "the tokenizer's model_max_length": getattr(tokenizer, "model_max_length", None)}
    known = {name: n for name, n in limits.items() if isinstance(n, int) and 0 < n < UNSET_MAX_LENGTH}
    if not known:
        return
    name, limit = min(known.items(), key=lambda item: item[1])
    if exp.model.max_seq_len > limit:
        raise DataError(f"model.max_seq_len: {exp.model.max_seq_len}, but {model_dir} takes at most {limit} tokens "
                        f"({name}); set model.max_seq_len to {limit} or less")


class Classifier(pl.LightningModule):
    def __init__(self, network, exp: Experiment, num_labels: int, total_steps: int):
        super().__init__()
        # The experiment as Lightning's hparams.yaml (CSV and TensorBoard) and the hparams of trainer.pt.
        self.save_hyperparameters(exp.model_dump(mode="json"))
        self.network, self.exp, self.total_steps = network, exp, total_steps
        self.metrics = torch.nn.ModuleDict({
            f"{split}_{name}": metric(num_classes=num_labels, average=average)
            for split in ("val", "test")
            for name, metric, average in (("accuracy", MulticlassAccuracy, "micro"), ("f1", MulticlassF1Score, "macro"))
        })
        self._step_started = 0.0

    def forward(self, batch: dict) -> torch.Tensor:
        return self.network(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = torch.nn.functional.cross_entropy(self(batch), batch["labels"])
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["labels"]))
        return loss

    def on_train_batch_start(self, batch, batch_idx) -> None:
        self._step_started = time.perf_counter()

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        seconds = time.perf_counter() - self._step_started
        samples = len(batch["labels"]) * self.trainer.world_size
        self.log("samples_per_s", samples / max(seconds, 1e-9), prog_bar=True, batch_size=1)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._score("val", batch)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._score("test", batch)

    def _score(self, split: str, batch: dict) -> None:
        logits = self(batch)
        # The mean cross-entropy tells trials apart that predict the same classes (a sweep's tied accuracies).
        loss = torch.nn.functional.cross_entropy(logits, batch["labels"])
        self.log(f"{split}_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["labels"]))
        predictions = logits.argmax(dim=-1)
        for name in ("accuracy", "f1"):
            metric = self.metrics[f"{split}_{name}"]
            metric.update(predictions, batch["labels"])
            self.log(f"{split}_{name}", metric, on_step=False, on_epoch=True, prog_bar=split == "val")

    def configure_optimizers(self):
        train = self.exp.train
        decay = [p for n, p in self.network.named_parameters() if not _no_decay(n)]
        no_decay = [p for n, p in self.network.named_parameters() if _no_decay(n)]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": train.weight_decay},
                                       {"params": no_decay, "weight_decay": 0.0}], lr=train.lr)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(self.total_steps * train.warmup_ratio),
                                                    self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _no_decay(name: str) -> bool:
    """Biases and LayerNorm weights are not decayed (BERT's recipe)."""
    return name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name
