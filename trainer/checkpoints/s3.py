"""The one module that talks to S3 (boto3). Works with any S3-compatible endpoint (AWS_ENDPOINT_URL)."""

import io
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from .manifest import MANIFEST
from .store import StoreError

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
        self.uploads: dict[tuple[str, str], PartUpload] = {}  # opened by open_write, finished by publish
        self.parts: ThreadPoolExecutor | None = None

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
        """Straight to S3 while it is written (a multipart upload, see PartUpload); publish() finishes it."""
        upload = PartUpload(self.client, self.bucket, self.key(folder, name), self._pool())
        self.uploads[(folder, name)] = upload
        return nullcontext(upload)

    def publish(self, folder: str, name: str) -> None:
        """Wait for the last parts and complete the upload: the object appears whole."""
        self.uploads.pop((folder, name)).finish()

    def unstage(self, folder: str, name: str) -> None:
        self.uploads.pop((folder, name), None)

    def _pool(self) -> ThreadPoolExecutor:
        if self.parts is None:
            self.parts = ThreadPoolExecutor(TRANSFER.max_concurrency, thread_name_prefix="s3-part")
        return self.parts

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


class PartUpload:
    """A write-only file that uploads itself while it is written: a multipart upload whose parts
    (TRANSFER's chunk size) go up TRANSFER.max_concurrency at a time as soon as they are full, so
    publishing waits only for the last ones instead of for the whole file. Writes wait while that many
    parts are in flight (memory stays bounded). A file of one part is PUT whole by finish(). Killed midway,
    it leaves an incomplete multipart upload, which S3Store.reclaim_uploads() aborts at the next start."""

    def __init__(self, client, bucket: str, key: str, pool: ThreadPoolExecutor):
        self.client, self.bucket, self.key, self.pool = client, bucket, key, pool
        self.part = bytearray()
        self.sent: list[Future] = []
        self.upload_id: str | None = None
        self.slots = threading.Semaphore(TRANSFER.max_concurrency)

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        taken = 0
        while taken < view.nbytes:
            piece = view[taken:taken + TRANSFER.multipart_chunksize - len(self.part)]
            self.part += piece  # a copy: the caller's buffer is its own again when write() returns
            taken += piece.nbytes
            if len(self.part) == TRANSFER.multipart_chunksize:
                self._send()
        return view.nbytes

    def flush(self) -> None:
        """Parts go up when full; finish() sends the rest."""

    def finish(self) -> None:
        """Send what is left and complete the upload; on failure, abort it and raise."""
        if self.upload_id is None:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.part))
            return
        try:
            if self.part:
                self._send()
            parts = [future.result() for future in self.sent]
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            self._abort()
            raise

    def _send(self) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        self.slots.acquire()
        body, self.part = self.part, bytearray()
        self.sent.append(self.pool.submit(self._upload_part, len(self.sent) + 1, body))

    def _upload_part(self, number: int, body: bytearray) -> dict:
        try:
            reply = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                            PartNumber=number, Body=body)
            return {"PartNumber": number, "ETag": reply["ETag"]}
        finally:
            self.slots.release()

    def _abort(self) -> None:
        for future in self.sent:
            future.cancel()
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
        except (BotoCoreError, ClientError):
            pass  # reclaim_uploads() aborts it at the next start
