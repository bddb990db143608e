import os

import pytest

from tests.factory import config_writer, run_launch


@pytest.fixture
def write_config(tmp_path):
    return config_writer(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def runs_root(tmp_path_factory):
    """Local run state of every test goes to a temporary runs root, never to the user's
    (~/.local/state/kubetrain/runs); `launch` processes the tests start inherit it."""
    os.environ["KUBETRAIN_RUNS_ROOT"] = str(tmp_path_factory.mktemp("runs-root"))


@pytest.fixture(scope="session")
def smoke_volumes(tmp_path_factory):
    """Claim folders holding what configs/smoke.yaml expects: the demo reviews and the packaged MiniLM, as
    `launch data reviews|minilm` writes them (a fresh clone has no ./volumes)."""
    root = tmp_path_factory.mktemp("volumes")
    assert run_launch("data", "reviews", "--out", str(root / "datasets" / "reviews")).returncode == 0
    assert run_launch("data", "minilm", "--out", str(root / "models" / "all-MiniLM-L6-v2")).returncode == 0
    return root


from tests.s3_server import bucket, s3_endpoint  # noqa: E402,F401  (fixtures)
from tests.cluster.fixtures import kube, kubelet, namespace, proxy  # noqa: E402,F401  (fixtures)
from tests.cluster.fixtures import pytest_collection_modifyitems  # noqa: E402,F401  (cluster tests last)
