"""The final model, committed like a checkpoint: files first, then a manifest of sizes and sha256. A run
whose final model verifies is finished: a resubmission trains nothing, and one cut off mid-save is not."""

import json
import tempfile
import time
from pathlib import Path

from launcher.schema.contract import CONFIG_FILE_NAME

from .catalog import inspect
from .manifest import MANIFEST, Manifest, hash_file
from .store import LocalStore, Store

METRICS = "metrics.json"
EXPERIMENT = CONFIG_FILE_NAME  # config.yaml: the experiment config, also beside the run's checkpoints


def save_final(network, tokenizer, metrics: dict, experiment: bytes, final: Store) -> None:
    """Hugging Face format (weights, config with the label map, tokenizer), metrics.json, the experiment config
    the run was started with (EXPERIMENT, so the folder alone traces to its settings), then manifest.json."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(final.location()) if isinstance(final, LocalStore) else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        (out / MANIFEST).unlink(missing_ok=True)  # a save over an older one is uncommitted until it ends
        network.save_pretrained(out)
        tokenizer.save_pretrained(out)
        (out / EXPERIMENT).write_bytes(experiment)
        (out / METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
        _same_mode_as(out / METRICS, out)
        files = {str(p.relative_to(out)): hash_file(p) for p in sorted(out.rglob("*")) if p.is_file()}
        final.upload_tree(out, "")
    step = metrics.get("steps", 0)
    manifest = Manifest(step=step, epoch=0, created=time.time(), world_size=1, files=files)
    final.commit("", MANIFEST, manifest.to_json())


def _same_mode_as(reference: Path, folder: Path) -> None:
    """Give every file in `folder` the mode of `reference`, a file written like a checkpoint file (open(),
    so 0666 less the umask): safetensors creates model.safetensors 0600, which the group could not read."""
    mode = reference.stat().st_mode & 0o777
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(mode)


def finished_metrics(final: Store) -> dict | None:
    """The metrics of a committed final model whose every file verifies; None if there is none."""
    entry, kept = inspect(final, "", verify_hashes=True, keep=frozenset({METRICS}))
    return json.loads(kept[METRICS]) if entry.valid else None
