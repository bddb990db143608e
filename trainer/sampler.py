"""A distributed sampler that can resume in the middle of an epoch, exactly."""

import torch
from torch.utils.data import Sampler


class ResumableDistributedSampler(Sampler[int]):
    """Seeded per-epoch shuffle, sharded across ranks, starting `offset` samples into this rank's shard.

    Every rank sees the same permutation (seed + epoch) and takes every world_size-th index, padding by
    wrap-around so all ranks take the same number of steps (no rank waits in a collective alone).
    Without shuffle (evaluation) shards are disjoint and unpadded: every sample is scored exactly once.
    """

    def __init__(self, size: int, num_replicas: int, rank: int, seed: int, shuffle: bool = True):
        self.size, self.num_replicas, self.rank, self.seed, self.shuffle = size, num_replicas, rank, seed, shuffle
        self.epoch = 0
        self.offset = 0
        # Training pads every shard to the same length; evaluation (no shuffle) counts each sample once.
        self.per_rank = -(-size // num_replicas) if shuffle else len(range(rank, size, num_replicas))

    def set_epoch(self, epoch: int) -> None:
        """Called at every epoch start; a new epoch (not the resumed one) starts from its beginning."""
        if epoch != self.epoch:
            self.offset = 0
        self.epoch = epoch

    def indices(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.rank, self.size, self.num_replicas))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        total = self.per_rank * self.num_replicas
        order += order[: total - len(order)]
        return order[self.rank:total:self.num_replicas]

    def __iter__(self):
        return iter(self.indices()[self.offset:])

    def __len__(self) -> int:
        # The full shard, even when resuming mid-epoch: Lightning restores its batch counter and ends the
        # epoch when that counter reaches len(loader) or the sampler runs out, so both must agree.
        return self.per_rank

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "offset": self.offset}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.offset = state["epoch"], state["offset"]
