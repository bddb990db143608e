"""A copy of the training state that training cannot change: what a periodic checkpoint serialises in the
background while the step loop goes on. Taking it is the only part of a periodic save the step loop waits for.
"""

import copy

import torch


class Snapshot:
    """Copies a state (nested dicts, lists and tuples of tensors and plain values, as Lightning's
    dump_checkpoint returns) into CPU memory that it keeps from one save to the next: after the first save a
    snapshot is a memory copy, with no allocation (pinned memory when CUDA is available, so copies from the
    GPU run at full speed). Memory: one more copy of the state's tensors, in host memory, for the whole run.

    Tensors keep their storage sharing (two tensors of one storage are two views of one copy), so the
    snapshot serialises to the same bytes as the state would. A snapshot's memory is reused by the next
    one: take() only once the previous snapshot has been written (CheckpointWriter.flush())."""

    def __init__(self) -> None:
        self.buffers: dict[tuple, torch.UntypedStorage] = {}

    def take(self, state):
        """A copy of `state` that shares no memory with it: tensors on CPU, other values deep-copied."""
        used: dict[tuple, torch.UntypedStorage] = {}
        copied = self._copy(state, used, {})
        if any(key[2] != "cpu" for key in used):
            torch.cuda.synchronize()  # the copies from the GPU ran asynchronously, into pinned memory
        self.buffers = used  # storages this state no longer has are let go
        return copied

    def _copy(self, obj, used: dict, memo: dict):
        if isinstance(obj, torch.Tensor):
            return self._tensor(obj, used)
        if isinstance(obj, dict):
            out = copy.copy(obj)  # keeps the dict's type (OrderedDict, Lightning's AttributeDict)
            out.clear()
            for key, value in obj.items():
                out[key] = self._copy(value, used, memo)
            return out
        if isinstance(obj, list):
            return [self._copy(item, used, memo) for item in obj]
        if isinstance(obj, tuple):
            items = [self._copy(item, used, memo) for item in obj]
            return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
        return copy.deepcopy(obj, memo)  # plain values; anything else is copied whole

    def _tensor(self, tensor: torch.Tensor, used: dict) -> torch.Tensor:
        if type(tensor) not in (torch.Tensor, torch.nn.Parameter) or tensor.layout != torch.strided \
                or tensor.is_quantized:
            return tensor.detach().to("cpu", copy=True)  # not in a Lightning state; copied without reuse
        storage = tensor.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes(), storage.device.type)
        if key not in used:
            used[key] = self._buffer(key)
            used[key].copy_(storage, non_blocking=storage.device.type != "cpu")
        copied = torch.empty(0, dtype=tensor.dtype).set_(used[key], tensor.storage_offset(), tensor.size(),
                                                         tensor.stride())
        if isinstance(tensor, torch.nn.Parameter):
            return torch.nn.Parameter(copied, requires_grad=tensor.requires_grad)
        return copied

    def _buffer(self, key: tuple) -> torch.UntypedStorage:
        if (buffer := self.buffers.get(key)) is not None:
            return buffer
        pin = torch.cuda.is_available()
        return torch.empty(key[1], dtype=torch.uint8, pin_memory=pin).untyped_storage()
