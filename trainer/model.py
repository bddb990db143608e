"""The LightningModule: a sequence classifier, AdamW with linear warmup and decay, accuracy and macro-F1."""

import time

import pytorch_lightning as pl
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score
from transformers import AutoModelForSequenceClassification, BertConfig, get_linear_schedule_with_warmup

from launcher.schema import Experiment


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


class Classifier(pl.LightningModule):
    def __init__(self, network, exp: Experiment, num_labels: int, total_steps: int):
        super().__init__()
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
        predictions = self(batch).argmax(dim=-1)
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
