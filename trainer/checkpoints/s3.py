"""The one module that talks to S3 (boto3). Works with any S3-compatible endpoint (AWS_ENDPOINT_URL)."""

import io
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from .manifest import MANIFEST
from .store import StoreError, open_staging

# Multipart above 8 MiB, 8 MiB parts, 16 in flight: a full BERT-base state (~1.3 GB) goes up as ~160
# parallel parts, so the save is bound by bandwidth rather than by one stream's latency.
TRANSFER = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=16)


def s3_client():
    """boto3 reads AWS_ENDPOINT_URL and the credentials (Secret env or IRSA / workload identity) itself.

    Transient failures (throttling, 5xx, refused or dropped connections) are retried with botocore's
    "standard" exponential backoff, AWS_MAX_ATTEMPTS attempts in all (default 8, about a minute)."""
    attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or 8)
    config = Config(retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=10, read_timeout=60)
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None, config=config)


class S3Store:
    def __init__(self, client, bucket: str, prefix: str):
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.staging = Path(tempfile.mkdtemp(prefix="kubetrain-s3-"))  # the pod's fast local disk

    @classmethod
    def from_uri(cls, uri: str, client=None) -> "S3Store":
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return cls(client or s3_client(), bucket, prefix)

    def key(self, folder: str, name: str = "") -> str:
        return "/".join(part for part in (self.prefix, folder, name) if part)

    def location(self, folder: str = "") -> str:
        return f"s3://{self.bucket}/{self.key(folder)}"

    def check(self) -> None:
        """Fail fast, with one line, if the bucket cannot be used.

        Raises StoreError: permanent for a missing bucket, missing credentials or access denied (retrying
        cannot help), transient for an endpoint that stayed unreachable through every retry."""
        where = f"checkpoint store s3://{self.bucket}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except NoCredentialsError:
            raise StoreError(f"{where}: no S3 credentials: reference a Secret (storage.checkpoints.secret) or "
                             "give the pod a ServiceAccount with a cloud role", permanent=True) from None
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("404", "NoSuchBucket"):
                raise StoreError(f"{where}: the bucket does not exist (create it, or fix "
                                 "storage.checkpoints.uri)", permanent=True) from None
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise StoreError(f"{where}: access denied ({code}): the credentials may not list and write this "
                                 "bucket", permanent=True) from None
            raise StoreError(f"{where}: {code}: {exc.response['Error'].get('Message', '')}", permanent=False) from None
        except BotoCoreError as exc:
            raise StoreError(f"{where}: unreachable after retries: {exc}", permanent=False) from None

    def reclaim_uploads(self) -> int:
        """Abort the multipart uploads left under this prefix by a killed process: S3 keeps their parts
        (billed, invisible to listing and delete) until aborted. Call only while nothing of this run
        uploads, at start-up. Returns how many were aborted."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket,
                                                                             Prefix=self.prefix + "/")
        uploads = [u for page in pages for u in page.get("Uploads", [])]
        for upload in uploads:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return len(uploads)

    def folders(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + "/", Delimiter="/")
        names = [p["Prefix"][len(self.prefix) + 1:].rstrip("/") for page in pages
                 for p in page.get("CommonPrefixes", [])]
        return sorted(names)

    def write(self, folder: str, name: str, data: bytes) -> None:
        self.client.upload_fileobj(io.BytesIO(data), self.bucket, self.key(folder, name), Config=TRANSFER)

    def read(self, folder: str, name: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(folder, name))["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def size(self, folder: str, name: str) -> int | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(folder, name))["ContentLength"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def open_write(self, folder: str, name: str) -> "contextmanager[BinaryIO]":
        """Into a staging file on local disk; publish() uploads it."""
        return open_staging(self.staged(folder, name))

    def staged(self, folder: str, name: str) -> Path:
        return self.staging / folder / name

    def publish(self, folder: str, name: str) -> None:
        """Upload the staged file in parallel parts."""
        self.client.upload_file(str(self.staged(folder, name)), self.bucket, self.key(folder, name), Config=TRANSFER)

    def unstage(self, folder: str, name: str) -> None:
        self.staged(folder, name).unlink(missing_ok=True)

    def commit(self, folder: str, name: str, data: bytes) -> None:
        """A single PUT is atomic on S3: the object is visible whole or not at all."""
        self.client.put_object(Bucket=self.bucket, Key=self.key(folder, name), Body=data)

    def delete(self, folder: str) -> None:
        """The manifest first (the checkpoint stops existing at once), then the rest."""
        self.client.delete_object(Bucket=self.bucket, Key=self.key(folder, MANIFEST))
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=self.key(folder) + "/")
        keys = [{"Key": obj["Key"]} for page in pages for obj in page.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[start:start + 1000]})

    def upload_tree(self, local: Path, folder: str) -> None:
        for path in sorted(Path(local).rglob("*")):
            if path.is_file():
                self.client.upload_file(str(path), self.bucket, self.key(folder, str(path.relative_to(local))),
                                        Config=TRANSFER)

    def download_tree(self, folder: str, local: Path) -> None:
        """Every object under `folder`, to the same relative paths under `local`."""
        prefix = self.key(folder) + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for obj in (obj for page in pages for obj in page.get("Contents", [])):
            path = Path(local) / obj["Key"][len(prefix):]
            path.parent.mkdir(parents=True, exist_ok=True)
            self.client.download_file(self.bucket, obj["Key"], str(path), Config=TRANSFER)
