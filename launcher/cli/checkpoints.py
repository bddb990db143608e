"""`launch checkpoints RUN`: a run's checkpoints, the check that was made, and the one a resume would take.

The listing comes from the trainer's torch-free catalog (trainer/checkpoints/catalog.py). `-o json` prints
one object: {"run_id", "root", "check": "sha256" | "size", "resume_step": int | null, "checkpoints":
[{"step", "state": "valid" | "torn", "reason", "resume": bool, "committed": RFC 3339 UTC | null, "bytes",
"location"}]}, newest first. Exit 0 when a checkpoint is usable, 1 when none is (a resume would start from
step 0), 2 when the root cannot be read.
"""

import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ConfigError
from ..output import table

CLIENT_ERRORS = {
    "NoSuchBucket": "the bucket does not exist: check the bucket name in --root",
    "AccessDenied": "access denied: the credentials may not list this bucket",
    "InvalidAccessKeyId": "the access key is not known to this endpoint: check AWS_ACCESS_KEY_ID",
    "SignatureDoesNotMatch": "the secret key does not match the access key: check AWS_SECRET_ACCESS_KEY",
}
S3_ATTEMPTS = "3"  # AWS_MAX_ATTEMPTS here unless set: a listing should not retry for a minute like the trainer


def checkpoints_doc(run_id: str, root: str, verified: bool, entries: list, location) -> dict:
    """The JSON document of a listing. `entries`: catalog Entry objects, newest first; `location(folder)`:
    where a step folder lives. The checkpoint a resume takes is the newest valid one (with a size check
    only, the newest whose sizes match: the trainer hashes it before it trusts it)."""
    resume = next((e.step for e in entries if e.valid), None)
    rows = [{"step": e.step, "state": "valid" if e.valid else "torn", "reason": e.reason, "resume": e.step == resume,
             "committed": _utc(e.manifest.created) if e.manifest else None,
             "bytes": e.manifest.total_bytes if e.manifest else None, "location": location(e.folder)}
            for e in entries]
    return {"run_id": run_id, "root": root, "check": "sha256" if verified else "size", "resume_step": resume,
            "checkpoints": rows}


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def checkpoints_text(doc: dict, wide: bool = False) -> str:
    """RESUME (`*` on the one a resume takes), STEP, COMMITTED (UTC), SIZE, CHECK, STATE; wide: LOCATION."""
    headers = ["resume", "step", "committed", "size", "check", "state"] + (["location"] if wide else [])
    rows = [["*" if row["resume"] else "", row["step"], row["committed"], _size(row["bytes"]), doc["check"],
             row["state"] + (f": {row['reason']}" if row["reason"] else "")] + ([row["location"]] if wide else [])
            for row in doc["checkpoints"]]
    return table(headers, rows)


def _size(size: int | None) -> str | None:
    """Bytes in binary units, as Kubernetes quantities spell them: 512, 6.8Ki, 420.1Mi, 1.3Gi."""
    if size is None:
        return None
    for unit, scale in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f}{unit}"
    return str(size)


def note(doc: dict) -> str:
    """The line for stderr under the table: why the exit code is 1, or what a size check does not prove."""
    if not doc["checkpoints"]:
        return f"No checkpoints found under {doc['root']}; a resume would start from step 0."
    if doc["resume_step"] is None:
        return "No usable checkpoint: every one is torn; a resume would start from step 0."
    if doc["check"] == "size":
        return "Sizes checked only: pass --verify to hash every file, as a resume does."
    return ""


def list_checkpoints(root: str, run_id: str, verify: bool) -> tuple[list, object]:
    """The catalog entries of `<root>/<run>/checkpoints`, newest first, and the store. ConfigError (one line)
    for a folder that does not exist, or an S3 root without credentials, bucket or endpoint."""
    from trainer.checkpoints.catalog import entries  # torch-free
    from trainer.checkpoints.uri import open_store

    os.environ.setdefault("AWS_MAX_ATTEMPTS", S3_ATTEMPTS)
    with _s3_errors(root):
        store = open_store(root, run_id)
        if not root.startswith("s3://") and not Path(store.location()).is_dir():
            raise ConfigError(f"--root {root}: no folder {store.location()} (is the run id right?)")
        return entries(store, verify), store


@contextmanager
def _s3_errors(root: str):
    """boto3's errors as one line that names the cause and the fix."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

    try:
        yield
    except ProfileNotFound as exc:
        raise ConfigError(f"--root {root}: {exc}: set AWS_PROFILE to a profile of ~/.aws/config, or unset it") \
            from None
    except NoCredentialsError:
        raise ConfigError(f"--root {root}: no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                          "or AWS_PROFILE") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConfigError(f"--root {root}: {CLIENT_ERRORS.get(code) or f'S3 refused the request ({code})'}") \
            from None
    except BotoCoreError as exc:
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or "the AWS endpoint"
        raise ConfigError(f"--root {root}: cannot reach {endpoint} ({exc}); check AWS_ENDPOINT_URL and the "
                          "network") from None
