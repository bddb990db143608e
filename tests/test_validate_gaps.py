"""Issue 10: a config that validates must run. Each numbered example of the issue is a test here with its exact
outcome (the error line and exit code of `launch validate`, or the rendered field), next to the rest of its kind.
The trainer's half (examples 2, 8, 9) is in tests/test_trainer_start_checks.py."""

from decimal import Decimal

import pytest
import yaml

from launcher.render.manifests import config_yaml, warnings
from launcher.schema import Experiment, quantity
from tests.factory import make_experiment, pod_spec, raw_config, rendered, run_launch


def validate(write_config, raw: dict, *args: str):
    path = write_config(raw)
    return path, run_launch("validate", str(path), *args)


def refused(write_config, raw: dict, message: str, *args: str) -> None:
    """`launch validate` exits 2 with exactly one line: the file, its line, the YAML path, the fix."""
    path, result = validate(write_config, raw, *args)
    assert (result.returncode, result.stderr) == (2, f"error: {path.parent}/{message}\n")
    assert result.stdout == ""


def warned(write_config, raw: dict, message: str) -> None:
    """`launch validate` accepts the config (exit 0) and prints exactly this warning."""
    _, result = validate(write_config, raw)
    assert (result.returncode, result.stderr) == (0, f"warning: {message}\n")


def limits(spec: dict) -> dict:
    return spec["containers"][0]["resources"]["limits"]


# Example 1 and its kind: memory-like quantities are whole bytes.
@pytest.mark.parametrize("raw, message", [
    pytest.param(raw_config(resources={"memory": "512m"}),
                 "exp.yaml:17: resources.memory: '512m' means 0.512 bytes ('m' is milli); did you mean 512Mi?",
                 id="example-1-memory-512m"),
    pytest.param(raw_config(resources={"shm": "64m"}),
                 "exp.yaml:17: resources.shm: '64m' means 0.064 bytes ('m' is milli); did you mean 64Mi?",
                 id="example-1-shm-64m"),
    pytest.param(raw_config(resources={"memory": "0.5"}),
                 "exp.yaml:17: resources.memory: '0.5' is 0.5 bytes, not a whole number of bytes",
                 id="fraction-of-a-byte"),
    pytest.param(raw_config(resources={"memory": "9Ei"}),
                 "exp.yaml:17: resources.memory: '9Ei' is more than Kubernetes can hold (2^63-1 base units)",
                 id="beyond-int64"),
    pytest.param(raw_config(resources={"cpu": "0.0005"}),
                 "exp.yaml:17: resources.cpu: '0.0005' is finer than Kubernetes keeps CPU (1m = 0.001 CPU); "
                 "did you mean 1m?", id="cpu-finer-than-1m"),
    pytest.param(raw_config(resources={"cpu": "0"}),
                 "exp.yaml:17: resources.cpu: '0' must be more than 0", id="zero-cpu"),
])
def test_quantities_the_api_server_would_round_are_refused(write_config, raw, message):
    refused(write_config, raw, message)


# Example 2's launcher half: every form that validates is parsed by the one parser both halves use.
@pytest.mark.parametrize("text, cores", [("500m", Decimal("0.5")), ("2", 2), ("1.5", Decimal("1.5")),
                                         ("2000m", 2), ("1e1", 10), ("1k", 1000)])
def test_every_valid_cpu_form_parses_to_cores(text, cores):
    exp = make_experiment(resources={"cpu": text})
    assert exp.resources.cpu_cores == cores
    assert limits(pod_spec(resources={"cpu": text}))["cpu"] == text


@pytest.mark.parametrize("text, count", [("512Mi", 512 * 2**20), ("1G", 10**9), ("1.5Gi", 3 * 2**29),
                                         ("128e6", 128 * 10**6), ("100k", 100_000)])
def test_every_valid_byte_form_parses_to_bytes(text, count):
    assert quantity.byte_count(make_experiment(resources={"memory": text, "shm": "1k"}).resources.memory) == count


def test_yaml_numbers_are_quantities_too(write_config):
    path = write_config(yaml.safe_dump(raw_config()) + "resources: {cpu: 0.5, memory: 1073741824, shm: 65536}\n")
    result = run_launch("render", str(path))
    assert result.returncode == 0, result.stderr
    job = list(yaml.safe_load_all(result.stdout))[-1]
    assert limits(job["spec"]["template"]["spec"]) == {"cpu": "0.5", "memory": "1073741824"}


# Example 3: the profile grammar of the device plugin, with the known table kept for a warning.
@pytest.mark.parametrize("profile", ["1g.18gb", "3g.71gb", "1g.23gb", "1g.6gb"])
def test_mig_profiles_of_current_gpus_are_accepted(profile):
    assert limits(pod_spec(resources={"gpu": {"count": 1, "mig_profile": profile}}))[f"nvidia.com/mig-{profile}"] \
        == "1"


def test_mig_profile_of_another_gpu_than_the_product_warns(write_config):
    warned(write_config,
           raw_config(resources={"gpu": {"count": 1, "mig_profile": "1g.18gb", "product": "NVIDIA-A100-SXM4-80GB"}}),
           "resources.gpu.mig_profile: 1g.18gb is not a MIG profile of the A100-80GB (NVIDIA-A100-SXM4-80GB); "
           "its profiles: 1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb")


def test_mig_profile_of_no_known_gpu_warns(write_config):
    warned(write_config, raw_config(resources={"gpu": {"count": 1, "mig_profile": "2g.5gb"}}),
           "resources.gpu.mig_profile: 2g.5gb is not a MIG profile of any GPU this launcher knows (A30-24GB, "
           "A100-40GB, A100-80GB, H100-80GB, H100-94GB, H100-96GB, H200-141GB, B200-180GB); check "
           "`nvidia-smi mig -lgip` on a node")


def test_mig_profile_matching_its_product_is_silent():
    assert warnings(make_experiment(resources={"gpu": {"count": 1, "mig_profile": "3g.71gb",
                                                       "product": "NVIDIA-H200"}})) == []


# Example 4 and its kind: one CUDA process per MIG slice or GPU share, one per pod.
@pytest.mark.parametrize("raw, message", [
    pytest.param(raw_config(resources={"nodes": 2, "gpu": {"count": 2, "mig_profile": "1g.18gb"}}),
                 "exp.yaml:19: resources.gpu.count: 2 MIG 1g.18gb slices in one pod start 2 processes, but a CUDA "
                 "process sees only one MIG device; set resources.gpu.count: 1 and resources.nodes: 4 (one per pod)",
                 id="example-4-two-mig-slices"),
    pytest.param(raw_config(resources={"gpu": {"count": 3, "shared": True}}),
                 "exp.yaml:18: resources.gpu.count: 3 shares of a time-sliced GPU in one pod start 3 processes, "
                 "but the shares may be one GPU, which NCCL refuses to use twice; set resources.gpu.count: 1 and "
                 "resources.nodes: 3 (one per pod)", id="three-gpu-shares"),
])
def test_more_than_one_slice_or_share_per_pod_is_refused(write_config, raw, message):
    refused(write_config, raw, message)


# Example 5: what GKE's device plugin advertises.
def test_gke_mig_requests_nvidia_gpu_on_nodes_of_that_partition_size():
    spec = pod_spec(scheduling={"spot": "gke"}, resources={"gpu": {"count": 1, "mig_profile": "1g.10gb"}})
    assert limits(spec) == {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert spec["nodeSelector"] == {"cloud.google.com/gke-spot": "true",
                                    "cloud.google.com/gke-gpu-partition-size": "1g.10gb"}


def test_gke_time_sharing_requests_nvidia_gpu_on_time_sharing_nodes():
    spec = pod_spec(scheduling={"spot": "gke"},
                    resources={"gpu": {"count": 1, "shared": True, "max_shared_clients": 4}})
    assert limits(spec) == {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert spec["nodeSelector"] == {"cloud.google.com/gke-spot": "true",
                                    "cloud.google.com/gke-gpu-sharing-strategy": "time-sharing",
                                    "cloud.google.com/gke-max-shared-clients-per-gpu": "4"}


def test_gke_device_plugin_can_be_named_without_spot():
    spec = pod_spec(resources={"gpu": {"count": 1, "shared": True, "device_plugin": "gke"}})
    assert limits(spec)["nvidia.com/gpu"] == "1"
    assert spec["nodeSelector"] == {"cloud.google.com/gke-gpu-sharing-strategy": "time-sharing"}


def test_other_spot_presets_keep_nvidia_device_plugin_resources():
    spec = pod_spec(scheduling={"spot": "eks"}, resources={"gpu": {"count": 1, "shared": True}})
    assert limits(spec)["nvidia.com/gpu.shared"] == "1"
    assert make_experiment(scheduling={"spot": "aks"}).resources.gpu.device_plugin == "nvidia"


@pytest.mark.parametrize("raw, message", [
    pytest.param(raw_config(scheduling={"spot": "gke"},
                            resources={"gpu": {"count": 1, "product": "NVIDIA-H100-80GB-HBM3"}}),
                 "exp.yaml:21: resources.gpu.product: GKE nodes have no nvidia.com/gpu.product label; select the "
                 "GPU with scheduling.node_selector cloud.google.com/gke-accelerator, e.g. nvidia-h100-80gb (or set "
                 "resources.gpu.device_plugin: nvidia where NVIDIA's GPU operator runs)",
                 id="gke-product-label"),
    pytest.param(raw_config(scheduling={"spot": "gke"},
                            resources={"gpu": {"count": 1, "mig_profile": "1g.10gb", "mig_strategy": "single"}}),
                 "exp.yaml:22: resources.gpu.mig_strategy: single is a setting of NVIDIA's device plugin; GKE "
                 "partitions are requested by partition size: leave mig_strategy unset", id="gke-mig-single"),
    pytest.param(raw_config(resources={"gpu": {"count": 1, "shared": True, "max_shared_clients": 4}}),
                 "exp.yaml:20: resources.gpu.max_shared_clients: selects GKE time-sharing nodes; NVIDIA's device "
                 "plugin has no such label (set device_plugin: gke on GKE)", id="nvidia-max-shared-clients"),
])
def test_gpu_settings_a_device_plugin_cannot_honour_are_refused(write_config, raw, message):
    refused(write_config, raw, message)


# Example 6: the Karpenter preset lets the interruption reach the trainer; the annotation is opt-in.
def test_karpenter_preset_does_not_block_eviction():
    annotations = rendered(scheduling={"spot": "karpenter"})["Job"]["spec"]["template"]["metadata"]["annotations"]
    assert "karpenter.sh/do-not-disrupt" not in annotations


def test_karpenter_do_not_disrupt_is_an_explicit_option_with_a_warning(write_config):
    scheduling = {"spot": "karpenter", "karpenter_do_not_disrupt": True}
    annotations = rendered(scheduling=scheduling)["Job"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["karpenter.sh/do-not-disrupt"] == "true"
    raw = raw_config(scheduling=scheduling)
    warned(write_config, raw, "scheduling.karpenter_do_not_disrupt: Karpenter will not evict these pods when a "
                              "spot node is interrupted, so no SIGTERM and no checkpoint; the NodePool needs a "
                              "terminationGracePeriod")


# Example 7: /dev/shm is charged to the memory limit.
def test_shm_at_or_above_the_memory_limit_is_refused(write_config):
    refused(write_config, raw_config(resources={"memory": "4Gi", "shm": "16Gi"}),
            "exp.yaml:18: resources.shm: 16Gi of /dev/shm counts against the pod's memory limit (resources.memory: "
            "4Gi), so DataLoader workers are OOM-killed before it fills; set shm below memory (e.g. 1Gi) or raise "
            "memory")


# Example 10: --set reaches map keys with dots.
def test_set_reaches_a_node_selector_key_with_dots(write_config):
    path = write_config(raw_config())
    result = run_launch("render", str(path), "--set", "scheduling.node_selector.example.com/pool=a",
                        "--set", "scheduling.node_selector.cloud\\.google\\.com/gke-accelerator=nvidia-l4")
    assert result.returncode == 0, result.stderr
    job = list(yaml.safe_load_all(result.stdout))[-1]
    assert job["spec"]["template"]["spec"]["nodeSelector"] == {
        "example.com/pool": "a", "cloud.google.com/gke-accelerator": "nvidia-l4"}


# Example 11: the API token is never mounted, whatever the identity.
@pytest.mark.parametrize("checkpoints", [{"uri": "s3://bucket/runs", "service_account": "trainer"},
                                         {"uri": "s3://bucket/runs", "secret": "s3"}, {"claim": "ckpt"}])
def test_the_service_account_token_is_never_mounted(checkpoints):
    spec = pod_spec(storage={"checkpoints": checkpoints})
    assert spec["automountServiceAccountToken"] is False
    assert spec.get("serviceAccountName") == checkpoints.get("service_account")


# Example 12's cluster half: settings that lose work on spot nodes.
def test_no_checkpoint_on_preemption_on_spot_nodes_warns(write_config):
    warned(write_config, raw_config(scheduling={"spot": "eks"}, checkpoint={"on_preemption": False}),
           "checkpoint.on_preemption is false on eks spot nodes: every reclaim loses the steps since the last "
           "periodic checkpoint")


# What the API server would reject (tests/test_apiserver_refusals.py shows it does, and the property test
# tests/test_apiserver_accepts_valid_configs.py that nothing valid is rejected): refused at validation instead.
@pytest.mark.parametrize("raw, message", [
    pytest.param(raw_config(scheduling={"node_selector": {"bad key": "a"}}),
                 "exp.yaml:18: scheduling.node_selector.bad key: 'bad key' is not a label key: a name of at most 63 "
                 "letters, digits, '-', '_' and '.', starting and ending with a letter or digit, optionally after a "
                 "DNS subdomain and '/'", id="label-key"),
    pytest.param(raw_config(scheduling={"node_selector": {"pool": "a b"}}),
                 "exp.yaml:18: scheduling.node_selector.pool: 'a b' is not a label value: at most 63 letters, "
                 "digits, '-', '_' and '.', starting and ending with a letter or digit", id="label-value"),
    pytest.param(raw_config(scheduling={"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}),
                 "exp.yaml:18: scheduling.tolerations[0]: operator Exists takes no value; use operator Equal to "
                 "match a value", id="toleration-exists-with-value"),
    pytest.param(raw_config(scheduling={"tolerations": [{"value": "v"}]}),
                 "exp.yaml:18: scheduling.tolerations[0]: a toleration without key must use operator Exists (it "
                 "tolerates every taint)", id="toleration-without-key"),
    pytest.param(raw_config(scheduling={"tolerations": [{"key": "k", "effect": "NoSchedule",
                                                         "toleration_seconds": 5}]}),
                 "exp.yaml:18: scheduling.tolerations[0]: toleration_seconds applies to effect NoExecute only",
                 id="toleration-seconds-without-noexecute"),
    pytest.param(raw_config(storage={"dataset": {"claim": "data", "mount": "/mnt/models"}}),
                 "exp.yaml:13: storage.model.mount: /mnt/models is already the mount path of storage.dataset.mount; "
                 "every volume needs a path of its own", id="same-mount-twice"),
    pytest.param(raw_config(storage={"dataset": {"claim": "data", "mount": "/dev/shm/"}}),
                 "exp.yaml:10: storage.dataset.mount: /dev/shm/ is already the mount path of /dev/shm; every volume "
                 "needs a path of its own", id="mount-over-shm"),
    pytest.param(raw_config(storage={"dataset": {"claim": "data", "mount": "data"}}),
                 "exp.yaml:10: storage.dataset.mount: 'data' is not valid here (an absolute path such as /mnt/data)",
                 id="relative-mount"),
    pytest.param(raw_config(image="my image"), "exp.yaml:16: image: 'my image' is not valid here (no spaces)",
                 id="image-with-a-space"),
    pytest.param(raw_config(scheduling={"priority_class": "High_Priority"}),
                 "exp.yaml:17: scheduling.priority_class: 'High_Priority' is not a valid object name: lowercase "
                 "letters, digits, '-' and '.', starting and ending with a letter or digit", id="priority-class"),
    pytest.param(raw_config(job={"backoff_limit": 2**31}),
                 "exp.yaml:17: job.backoff_limit: Input should be less than or equal to 2147483647 (got 2147483648)",
                 id="int32-backoff-limit"),
    pytest.param(raw_config(resources={"nodes": 100_001}),
                 "exp.yaml:17: resources.nodes: Input should be less than or equal to 100000 (got 100001)",
                 id="indexed-job-completions"),
    pytest.param(raw_config(resources={"gpu": {"count": 1, "mig_profile": "1g.10gb", "mig_strategy": "single",
                                               "product": "NVIDIA-" + "X" * 50}}),
                 "exp.yaml:21: resources.gpu.product: with the single MIG strategy the node label is 'NVIDIA-"
                 + "X" * 50 + "-MIG-1g.10gb' is not a label value: at most 63 letters, digits, '-', '_' and '.', "
                 "starting and ending with a letter or digit", id="single-strategy-product-label"),
])
def test_what_the_api_server_would_reject_is_refused_at_validation(write_config, raw, message):
    refused(write_config, raw, message)



# The whole kind of example 2: values the trainer would crash on are refused at validation.
@pytest.mark.parametrize("raw, message", [
    pytest.param(raw_config(train={"seed": -1}),
                 "exp.yaml:17: train.seed: Input should be greater than or equal to 0 (got -1)",
                 id="seed-out-of-numpy"),
    pytest.param(raw_config(storage={"checkpoints": {"uri": "s3://bucket/x", "endpoint_url": "minio:9000"}}),
                 "exp.yaml:16: storage.checkpoints.endpoint_url: 'minio:9000' is not valid here (an http:// or "
                 "https:// URL such as http://minio:9000)", id="endpoint-without-scheme"),
])
def test_values_the_trainer_cannot_use_are_refused(write_config, raw, message):
    refused(write_config, raw, message)


# A free-form affinity let through whatever the API server refuses, and left the property test nothing valid to
# generate but hand-picked shapes. It is now the Kubernetes Affinity object, checked as the API server checks it.
def node_affinity(term: dict) -> dict:
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}}


REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


@pytest.mark.parametrize("raw, message", [
    pytest.param(raw_config(scheduling={"affinity": {"nodeAfinity": {}}}),
                 "exp.yaml:18: scheduling.affinity.nodeAfinity: unknown key; allowed: nodeAffinity, podAffinity, "
                 "podAntiAffinity", id="unknown-key"),
    pytest.param(raw_config(scheduling=node_affinity({"matchExpressions": [{"key": "zone", "operator": "In"}]})),
                 f"exp.yaml:22: scheduling.affinity.nodeAffinity.{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0]: "
                 "operator In needs at least one value", id="in-without-values"),
    pytest.param(raw_config(scheduling=node_affinity({"matchExpressions": [{"key": "gpus", "operator": "Gt",
                                                                            "values": ["many"]}]})),
                 f"exp.yaml:22: scheduling.affinity.nodeAffinity.{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0]: "
                 "operator Gt needs exactly one whole number, 0 or more (values are label values, so no sign)",
                 id="gt-not-an-integer"),
    pytest.param(raw_config(scheduling=node_affinity({"matchExpressions": [{"key": "gpus", "operator": "Lt",
                                                                            "values": ["-1"]}]})),
                 f"exp.yaml:25: scheduling.affinity.nodeAffinity.{REQUIRED}.nodeSelectorTerms[0].matchExpressions[0]"
                 ".values[0]: '-1' is not a label value: at most 63 letters, digits, '-', '_' and '.', starting and "
                 "ending with a letter or digit", id="lt-negative-found-by-the-property-test"),
    pytest.param(raw_config(scheduling={"affinity": {"podAntiAffinity": {REQUIRED: [
                     {"labelSelector": {"matchLabels": {"app": "x"}}}]}}}),
                 f"exp.yaml:20: scheduling.affinity.podAntiAffinity.{REQUIRED}[0].topologyKey: Field required",
                 id="pod-anti-affinity-without-topology-key"),
])
def test_an_affinity_the_api_server_would_refuse_is_refused(write_config, raw, message):
    refused(write_config, raw, message)


def test_an_affinity_renders_as_written_and_round_trips_through_the_config_map():
    preferred = {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app.kubernetes.io/name": "x"}},
                                                   "topologyKey": "kubernetes.io/hostname"}}
    affinity = {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [preferred]}}
    exp = make_experiment(scheduling={"affinity": affinity})
    assert pod_spec(scheduling={"affinity": affinity})["affinity"] == affinity
    assert Experiment.model_validate(yaml.safe_load(config_yaml(exp))) == exp  # what the trainer reads back
