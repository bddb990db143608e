"""The real node's two images, built on this machine without any registry and cached by their recipe's hash.

- The trainer's test image: an `mmdebstrap --variant=minbase` Debian bookworm rootfs with Python 3.11 (the
  venv's minor version), tini and a UID-1000 user, with the entrypoint, user and environment of
  Dockerfile.train (tests/test_test_image.py holds the two together). It holds no project code: containerd's
  base runtime spec (realnode.py) bind-mounts the checkout and the venv's site-packages read-only, so the
  image is built once per recipe, not per change.
- The pause image: `pause.c` of the k8s.io/kubernetes module the control plane is built from, linked static.

Each is written as a Docker image archive (manifest.json, config, one layer) that `ctr images import` reads.
Cache: ${KUBETRAIN_CACHE:-~/.cache/kubetrain}/images/<name>-<hash>.tar.
"""

import hashlib
import io
import json
import os
import shlex
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .binaries import versions

SRC_MOUNT = "/opt/kubetrain/src"
SITE_MOUNT = "/opt/kubetrain/site-packages"
SUITE = "bookworm"  # python3 is 3.11 there, the venv's minor version (the venv's compiled wheels need it)
PYTHON = (3, 11)
# python-is-python3: the entrypoint says `python`; libstdc++6 and libgomp1: torch's native libraries.
PACKAGES = ("python3", "python-is-python3", "tini", "libstdc++6", "libgomp1", "ca-certificates")
# Debian's python3 reads /usr/lib/python3/dist-packages/*.pth; this one adds the mounted site-packages as a
# site dir, so the .pth files inside it (e.g. distutils-precedence) are processed as in the venv.
SITE_PTH = f"import site; site.addsitedir({json.dumps(SITE_MOUNT)})\n"
CUSTOMIZE = (
    'chroot "$1" useradd --uid 1000 --create-home --shell /usr/sbin/nologin trainer',
    f'echo {shlex.quote(SITE_PTH.strip())} > "$1/usr/lib/python3/dist-packages/kubetrain-venv.pth"',
    'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*',
)


def trainer_config() -> dict:
    """The image config (OCI `config` section) of the test image: Dockerfile.train's entrypoint, user and
    environment, plus PYTHONPATH naming the mounted checkout."""
    return {
        "Entrypoint": ["/usr/bin/tini", "--", "python", "-m", "trainer"],
        "Cmd": ["--config", "/etc/experiment/config.yaml"],
        "User": "1000:1000",
        "WorkingDir": "/home/trainer",
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "PYTHONUNBUFFERED=1", "HF_HUB_OFFLINE=1", "HF_HOME=/tmp/hf",
                f"PYTHONPATH={SRC_MOUNT}"],
    }


def trainer_recipe() -> dict:
    """Everything the trainer image is made of; its hash names the cached archive."""
    return {"suite": SUITE, "variant": "minbase", "packages": PACKAGES, "customize": CUSTOMIZE,
            "config": trainer_config()}


def pause_recipe(pause_c: bytes) -> dict:
    """Everything the pause image is made of."""
    return {"pause.c": hashlib.sha256(pause_c).hexdigest(), "cflags": PAUSE_CFLAGS,
            "config": {"Entrypoint": ["/pause"]}}


PAUSE_CFLAGS = ("-Os", "-static", "-Wall", "-Werror")


def image_name(name: str, recipe: dict) -> str:
    """`kubetrain.test/<name>:<first 12 hex of the recipe's sha256>`: a new recipe is a new image."""
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    return f"kubetrain.test/{name}:{digest}"


def cache_dir() -> Path:
    """${KUBETRAIN_CACHE:-~/.cache/kubetrain}/images."""
    return Path(os.environ.get("KUBETRAIN_CACHE") or Path.home() / ".cache" / "kubetrain") / "images"


def archive_path(image: str) -> Path:
    """Where the archive of `image` is cached."""
    return cache_dir() / (image.split("/", 1)[1].replace(":", "-") + ".tar")


def pause_source() -> Path:
    """build/pause/linux/pause.c of the k8s.io/kubernetes module pinned in versions.env (in Go's module
    cache, which `make controlplane` filled)."""
    gomodcache = subprocess.run(["go", "env", "GOMODCACHE"], check=True, capture_output=True, text=True)
    version = versions()["KUBERNETES_VERSION"]
    return Path(gomodcache.stdout.strip()) / f"k8s.io/kubernetes@{version}" / "build/pause/linux/pause.c"


def build_pause() -> tuple[str, Path]:
    """(image name, archive) of the pause image, built unless cached."""
    source = pause_source()
    recipe = pause_recipe(source.read_bytes())
    image = image_name("pause", recipe)
    archive = archive_path(image)
    if not archive.exists():
        with tempfile.TemporaryDirectory() as tmp:
            binary = Path(tmp) / "pause"
            subprocess.run(["gcc", *PAUSE_CFLAGS, "-o", str(binary), str(source)], check=True)
            subprocess.run(["strip", str(binary)], check=True)
            layer = Path(tmp) / "layer.tar"
            with tarfile.open(layer, "w") as tar:
                tar.add(binary, arcname="pause")
            write_docker_archive(archive, image, layer, recipe["config"])
    return image, archive


def build_trainer() -> tuple[str, Path]:
    """(image name, archive) of the trainer's test image, built with mmdebstrap unless cached (~1 min)."""
    recipe = trainer_recipe()
    image = image_name("trainer", recipe)
    archive = archive_path(image)
    if not archive.exists():
        with tempfile.TemporaryDirectory() as tmp:
            layer = Path(tmp) / "rootfs.tar"
            hooks = [f"--customize-hook={hook}" for hook in CUSTOMIZE]
            subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                            *hooks, SUITE, str(layer)], check=True)
            write_docker_archive(archive, image, layer, recipe["config"])
    return image, archive


def write_docker_archive(archive: Path, image: str, layer: Path, config: dict) -> None:
    """A one-layer `docker save` archive of `layer` (an uncompressed tar) tagged `image`, written atomically."""
    diff_id = "sha256:" + _sha256_file(layer)
    doc = {"architecture": "amd64", "os": "linux", "config": config,
           "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    config_bytes = json.dumps(doc, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [image], "Layers": ["layer.tar"]}]
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        tar.add(layer, arcname="layer.tar")
        _add_bytes(tar, config_name, config_bytes)
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    partial.rename(archive)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
