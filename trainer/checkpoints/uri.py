"""A checkpoint URI (`storage.checkpoints.uri`: a folder or s3://bucket/prefix) to the store behind it.

Its own module so that store.py (the interface and the folder store) and s3.py (the S3 store, built on
store.py's pieces) import in one direction only; boto3 is imported only for s3:// URIs.
"""

from pathlib import Path

from .store import LocalStore, Store


def open_store(uri: str, run_id: str, area: str = "checkpoints") -> Store:
    """The store for `<uri>/<run id>/<area>`: S3 for s3:// URIs, a folder otherwise."""
    if uri.startswith("s3://"):
        from .s3 import S3Store

        return S3Store.from_uri(f"{uri.rstrip('/')}/{run_id}/{area}")
    return LocalStore(Path(uri) / run_id / area)
