"""`launch checkpoints`: says which check it made, marks the checkpoint a resume takes, prints times in UTC,
exits 1 when no checkpoint is usable and 2 (one line) when the root cannot be read, on a folder or on S3."""

import json

from trainer.checkpoints.manifest import MANIFEST, Manifest, digest
from trainer.checkpoints.store import LocalStore
from tests.factory import run_launch

T0 = 1777228542.0  # 2026-04-26T18:35:42Z
NO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                  "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent",
                  "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}


def commit(store, step: int, data: bytes = b"weights" * 1000) -> str:
    """A committed checkpoint of one file, as the trainer's writer leaves it."""
    folder = f"step-{step:010d}"
    store.write(folder, "trainer.pt", data)
    manifest = Manifest(step=step, epoch=0, created=T0 + step, world_size=1, files={"trainer.pt": digest(data)})
    store.commit(folder, MANIFEST, manifest.to_json())
    return folder


def flip_a_byte(store, folder: str) -> None:
    path = store.root / folder / "trainer.pt"
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))


def checkpoints(root, *args, **kw):
    return run_launch("checkpoints", "run", "--root", str(root), *args, **kw)


def test_a_flipped_byte_passes_the_size_check_and_says_so_and_fails_verify(tmp_path):
    store = LocalStore(tmp_path / "run" / "checkpoints")
    commit(store, 10)
    flip_a_byte(store, commit(store, 20))
    sized = checkpoints(tmp_path)
    assert (sized.returncode, sized.stdout) == (0, (
        "RESUME   STEP   COMMITTED              SIZE    CHECK   STATE\n"
        "*        20     2026-04-26T18:36:02Z   6.8Ki   size    valid\n"
        "         10     2026-04-26T18:35:52Z   6.8Ki   size    valid\n"))
    assert sized.stderr == "Sizes checked only: pass --verify to hash every file, as a resume does.\n"
    verified = checkpoints(tmp_path, "--verify")
    assert (verified.returncode, verified.stdout, verified.stderr) == (0, (
        "RESUME   STEP   COMMITTED              SIZE    CHECK    STATE\n"
        "         20     2026-04-26T18:36:02Z   6.8Ki   sha256   torn: trainer.pt does not match its sha256\n"
        "*        10     2026-04-26T18:35:52Z   6.8Ki   sha256   valid\n"), "")


def test_json_names_the_check_and_the_resume_step(tmp_path):
    store = LocalStore(tmp_path / "run" / "checkpoints")
    commit(store, 10, b"x" * 2048)
    (store.root / "step-0000000020").mkdir()  # a save cut off before its manifest
    doc = json.loads(checkpoints(tmp_path, "-o", "json", "--verify").stdout)
    location = str(store.root)
    assert doc == {"run_id": "run", "root": location, "check": "sha256", "resume_step": 10, "checkpoints": [
        {"step": 20, "state": "torn", "reason": "no manifest (the save never committed)", "resume": False,
         "committed": None, "bytes": None, "location": f"{location}/step-0000000020"},
        {"step": 10, "state": "valid", "reason": "", "resume": True, "committed": "2026-04-26T18:35:52Z",
         "bytes": 2048, "location": f"{location}/step-0000000010"}]}


def test_no_usable_checkpoint_exits_1(tmp_path):
    store = LocalStore(tmp_path / "run" / "checkpoints")
    store.write("step-0000000005", "trainer.pt", b"half")
    torn = checkpoints(tmp_path)
    assert (torn.returncode, torn.stderr) == (
        1, "No usable checkpoint: every one is torn; a resume would start from step 0.\n")
    store.delete("step-0000000005")
    empty = checkpoints(tmp_path)
    assert (empty.returncode, empty.stdout, empty.stderr) == (
        1, "RESUME   STEP   COMMITTED   SIZE   CHECK   STATE\n",
        f"No checkpoints found under {store.root}; a resume would start from step 0.\n")


def test_a_root_that_does_not_exist_is_an_error_not_an_empty_table(tmp_path):
    result = checkpoints(tmp_path / "nope")
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", f"error: --root {tmp_path}/nope: no folder {tmp_path}/nope/run/checkpoints (is the run id right?)\n")


def test_s3_without_credentials_is_one_line(s3_endpoint):
    result = checkpoints("s3://ckpt-bucket/runs", env={**NO_CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint})
    assert (result.returncode, result.stderr) == (
        2, "error: --root s3://ckpt-bucket/runs: no S3 credentials: set AWS_ACCESS_KEY_ID and "
           "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE\n")


def test_an_unreachable_s3_endpoint_is_one_line():
    result = checkpoints("s3://ckpt-bucket/runs", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                                                       "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
                                                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: --root s3://ckpt-bucket/runs: cannot reach http://127.0.0.1:9 (")
    assert result.stderr.endswith("); check AWS_ENDPOINT_URL and the network\n")
    assert result.stderr.count("\n") == 1


def test_a_missing_bucket_and_a_listing_on_s3(s3_endpoint, bucket):
    missing = checkpoints("s3://no-such-bucket/runs", env={"AWS_ENDPOINT_URL": s3_endpoint})
    assert (missing.returncode, missing.stderr) == (
        2, "error: --root s3://no-such-bucket/runs: the bucket does not exist: check the bucket name in --root\n")
    client, name = bucket
    data = b"w" * 100
    client.put_object(Bucket=name, Key="runs/run/checkpoints/step-0000000003/trainer.pt", Body=data)
    manifest = Manifest(step=3, epoch=0, created=T0, world_size=1, files={"trainer.pt": digest(data)})
    client.put_object(Bucket=name, Key="runs/run/checkpoints/step-0000000003/manifest.json", Body=manifest.to_json())
    listed = checkpoints(f"s3://{name}/runs", "--verify", "-o", "wide", env={"AWS_ENDPOINT_URL": s3_endpoint})
    assert (listed.returncode, listed.stdout.splitlines()[1]) == (
        0, f"*        3      2026-04-26T18:35:42Z   100    sha256   valid   s3://{name}/runs/run/checkpoints/"
           "step-0000000003")
