"""The LightningDataModule: files on the dataset volume -> tokenized, sharded, dynamically padded batches."""

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from launcher.schema import Experiment

from .records import encode_labels, label_map, read_records
from .sampler import ResumableDistributedSampler


class Encoded(Dataset):
    """Token ids (unpadded) and label ids of one split."""

    def __init__(self, input_ids: list[list[int]], labels: list[int]):
        self.input_ids, self.labels = input_ids, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.input_ids[i], self.labels[i]


class Collate:
    """Pads each batch to its own longest sequence (dynamic padding), not to max_seq_len."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, _) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        labels = torch.tensor([label for _, label in batch])
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


class ReviewsData(pl.LightningDataModule):
    """Reads train / validation / test from the dataset mount; label names are fixed by the training split."""

    def __init__(self, exp: Experiment, tokenizer, rank: int, world_size: int):
        super().__init__()
        self.exp, self.tokenizer, self.rank, self.world_size = exp, tokenizer, rank, world_size
        self.splits: dict[str, Encoded] = {}
        self.label_names: list = []
        self.train_sampler: ResumableDistributedSampler | None = None

    def prepare(self) -> None:
        """Read and tokenize every split (called before the model is built: it needs num_labels)."""
        data, root = self.exp.data, Path(self.exp.storage.dataset.mount)
        files = {"train": data.train, "validation": data.validation, "test": data.test}
        records = {split: self._read(root / rel, f"data.{split}") for split, rel in files.items() if rel}
        self.label_names = label_map([label for _, label in records["train"]], self.exp.model.num_labels)
        for split, rows in records.items():
            labels = encode_labels(rows, self.label_names, root / files[split], f"data.{split}")
            encoded = self.tokenizer([text for text, _ in rows], truncation=True,
                                     max_length=self.exp.model.max_seq_len)["input_ids"]
            self.splits[split] = Encoded(encoded, labels)
        self.train_sampler = ResumableDistributedSampler(len(self.splits["train"]), self.world_size, self.rank,
                                                         seed=self.exp.train.seed)

    def _read(self, path: Path, what: str):
        data = self.exp.data
        return read_records(path, data.format, data.text_field, data.label_field, what)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.train_sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def _loader(self, split: str, sampler=None) -> DataLoader:
        dataset = self.splits[split]
        if sampler is None:  # evaluation: every rank a disjoint, unshuffled shard
            sampler = ResumableDistributedSampler(len(dataset), self.world_size, self.rank, seed=0, shuffle=False)
        workers = self.exp.data.num_workers
        # An own generator for worker seeds: iter() then never draws from the global RNG that dropout uses,
        # so a resumed run draws the same dropout masks as an uninterrupted one.
        return DataLoader(dataset, batch_size=self.exp.train.batch_size, sampler=sampler,
                          collate_fn=Collate(self.tokenizer.pad_token_id), num_workers=workers,
                          persistent_workers=workers > 0,
                          generator=torch.Generator().manual_seed(self.exp.train.seed))

    def optimizer_steps(self) -> int:
        """Total optimizer steps of the run, computed from the data (not by Lightning, which would build
        the train loader early: Lightning #20550)."""
        train = self.exp.train
        steps = train.epochs * self.steps_per_epoch()
        return min(steps, train.max_steps) if train.max_steps else steps

    def steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch (a last, shorter accumulation still steps)."""
        train = self.exp.train
        batches = -(-self.train_sampler.per_rank // train.batch_size)
        return -(-batches // train.grad_accumulation)
