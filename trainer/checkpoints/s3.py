"""The one module that talks to S3 (boto3). Works with any S3-compatible endpoint (AWS_ENDPOINT_URL)."""

import io
import os
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

# Multipart above 64 MiB, 8 parts in flight: full BERT-base state (~1.3 GB) uploads in parallel parts.
TRANSFER = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=8)


def s3_client():
    """boto3 reads AWS_ENDPOINT_URL and the credentials (Secret env or IRSA / workload identity) itself."""
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


class S3Store:
    def __init__(self, client, bucket: str, prefix: str):
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")

    @classmethod
    def from_uri(cls, uri: str, client=None) -> "S3Store":
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return cls(client or s3_client(), bucket, prefix)

    def key(self, folder: str, name: str = "") -> str:
        return "/".join(part for part in (self.prefix, folder, name) if part)

    def location(self, folder: str = "") -> str:
        return f"s3://{self.bucket}/{self.key(folder)}"

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

    def commit(self, folder: str, name: str, data: bytes) -> None:
        """A single PUT is atomic on S3: the object is visible whole or not at all."""
        self.client.put_object(Bucket=self.bucket, Key=self.key(folder, name), Body=data)

    def delete(self, folder: str) -> None:
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
