import pytest

from tests.factory import config_writer


@pytest.fixture
def write_config(tmp_path):
    return config_writer(tmp_path)


from tests.s3_server import bucket, s3_endpoint  # noqa: E402,F401  (fixtures)
from tests.cluster.fixtures import kube, kubelet, namespace, proxy  # noqa: E402,F401  (fixtures)
from tests.cluster.fixtures import pytest_collection_modifyitems  # noqa: E402,F401  (cluster tests last)
