"""Issue 10: every object rendered from a valid config is accepted by a real kube-apiserver.

Hypothesis generates valid configs across every section and option (tests/config_strategies.py); each one is
validated by the schema, rendered, and every object is created with dryRun=All and strict field validation
on the control plane of tests/cluster (the session's `kube`, in the test's own `namespace`). Whatever the API
server rejects is fixed in the schema, so that `launch validate` refuses it first; the examples it found are
pinned in tests/test_validate_gaps.py."""

import json
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client

from launcher.config.identity import run_id_for
from launcher.render.manifests import render
from launcher.schema import Experiment
from tests.cluster.objects import create
from tests.config_strategies import experiments

pytestmark = pytest.mark.cluster


# 150 examples take about 10 s once the control plane is up; KUBETRAIN_APISERVER_EXAMPLES searches deeper.
@settings(max_examples=int(os.environ.get("KUBETRAIN_APISERVER_EXAMPLES", 150)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_the_api_server_accepts_every_object_of_every_valid_config(kube, namespace, data):
    raw = data.draw(experiments(namespace), label="config")
    exp = Experiment.model_validate(raw)  # the strategies generate only valid configs
    run_id = run_id_for(exp)
    for obj in render(exp, run_id):
        try:
            create(kube.api, obj, dry_run=True)
        except client.ApiException as exc:
            message = json.loads(exc.body).get("message", exc.body) if exc.body else exc.reason
            pytest.fail(f"the API server refused the {obj['kind']} of this valid config: {message}\n"
                        f"{yaml.safe_dump(exp.model_dump(mode='json'), sort_keys=False)}")
