#!/usr/bin/env bash
# GPU smoke benchmark: the quickstart model (MiniLM) fine-tuned in bf16 on one GPU; prints samples per
# second and peak GPU memory as JSON on the last line.
#
# How to run: on a machine with an NVIDIA GPU and this repository set up (`make setup` with a CUDA build of
# torch, then `.venv/bin/launch data reviews && .venv/bin/launch data minilm`):
#     bash bench/gpu_smoke.sh
# Record the result with the GPU model in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
"$PY" - <<'PY'
import json, time, torch
from pathlib import Path
from transformers import AutoModelForSequenceClassification, AutoTokenizer

assert torch.cuda.is_available(), "no CUDA GPU: this benchmark needs one"
model_dir = Path("volumes/models/all-MiniLM-L6-v2")
tok = AutoTokenizer.from_pretrained(model_dir)
rows = [json.loads(l) for l in open("volumes/datasets/reviews/train.jsonl")][:2048]
model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2).cuda().train()
opt = torch.optim.AdamW(model.parameters(), lr=5e-5)
batch_size, steps = 64, 0
torch.cuda.reset_peak_memory_stats()
start = None
for epoch in range(3):
    for i in range(0, len(rows), batch_size):
        chunk = rows[i:i + batch_size]
        enc = tok([r["text"] for r in chunk], truncation=True, max_length=128, padding=True, return_tensors="pt").to("cuda")
        labels = torch.tensor([r["label"] == "great" for r in chunk], dtype=torch.long, device="cuda")
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(**enc).logits, labels)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        steps += 1
        if steps == 5:  # warm-up done
            torch.cuda.synchronize(); start = time.perf_counter(); counted = 0
        elif start is not None:
            counted += len(chunk)
torch.cuda.synchronize()
seconds = time.perf_counter() - start
print(json.dumps({"gpu": torch.cuda.get_device_name(), "precision": "bf16-mixed", "batch_size": batch_size,
                  "max_seq_len": 128, "samples_per_second": round(counted / seconds, 1),
                  "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}))
PY
