"""One test per rendering feature: what a config asks for is what the pods get."""

from launcher.render.manifests import render, warnings
from launcher.schema import EXIT_BAD_CONFIG, EXIT_REQUEUE
from tests.factory import env_of, make_experiment, pod_spec, rendered

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def limits(spec: dict) -> dict:
    return spec["containers"][0]["resources"]["limits"]


def test_whole_gpus_request_nvidia_gpu_and_tolerate_the_gpu_taint():
    spec = pod_spec(resources={"gpu": {"count": 4}})
    assert limits(spec)["nvidia.com/gpu"] == "4"
    assert spec["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "4"
    assert GPU_TOLERATION in spec["tolerations"]
    assert env_of(spec)["NPROC_PER_NODE"]["value"] == "4"


def test_cpu_run_has_no_gpu_resource_or_toleration():
    spec = pod_spec(resources={"cpu_processes_per_node": 2})
    assert not any(k.startswith("nvidia.com/") for k in limits(spec))
    assert "tolerations" not in spec
    assert env_of(spec)["NPROC_PER_NODE"]["value"] == "2"


def test_mig_mixed_strategy_requests_the_profile_resource():
    spec = pod_spec(resources={"gpu": {"count": 1, "mig_profile": "1g.10gb"}})
    assert limits(spec)["nvidia.com/mig-1g.10gb"] == "1"
    assert "nvidia.com/gpu" not in limits(spec)
    assert env_of(spec)["NPROC_PER_NODE"]["value"] == "1"  # one process, one MIG slice


def test_mig_single_strategy_requests_gpus_on_nodes_of_that_profile():
    spec = pod_spec(resources={"gpu": {"count": 1, "mig_profile": "3g.40gb", "mig_strategy": "single",
                                       "product": "NVIDIA-H100-80GB-HBM3"}})
    assert limits(spec)["nvidia.com/gpu"] == "1"
    assert spec["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3-MIG-3g.40gb"


def test_shared_gpu_requests_the_time_sliced_resource():
    spec = pod_spec(resources={"gpu": {"count": 1, "shared": True}})
    assert limits(spec) == {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu.shared": "1"}
    assert GPU_TOLERATION in spec["tolerations"]


def test_gpu_product_becomes_a_node_selector():
    spec = pod_spec(resources={"gpu": {"count": 8, "product": "NVIDIA-A100-SXM4-80GB"}})
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}


def test_gke_spot_selects_spot_nodes_tolerates_their_taint_and_fits_the_15s_grace():
    spec = pod_spec(scheduling={"spot": "gke"})
    assert spec["nodeSelector"] == {"cloud.google.com/gke-spot": "true"}
    assert {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true",
            "effect": "NoSchedule"} in spec["tolerations"]
    assert spec["terminationGracePeriodSeconds"] == 15


def test_gke_spot_warns_when_the_grace_period_exceeds_what_gke_gives():
    (message,) = warnings(make_experiment(scheduling={"spot": "gke"}, job={"grace_period_seconds": 60}))
    assert message.startswith("job.grace_period_seconds is 60 s but GKE spot gives user pods 15 s")


def test_eks_spot_selects_managed_node_group_spot_capacity():
    spec = pod_spec(scheduling={"spot": "eks"})
    assert spec["nodeSelector"] == {"eks.amazonaws.com/capacityType": "SPOT"}
    assert "tolerations" not in spec
    assert spec["terminationGracePeriodSeconds"] == 110


def test_karpenter_spot_selects_spot_capacity_and_lets_the_interruption_reach_the_trainer():
    job = rendered(scheduling={"spot": "karpenter"})["Job"]
    assert job["spec"]["template"]["spec"]["nodeSelector"] == {"karpenter.sh/capacity-type": "spot"}
    assert job["spec"]["template"]["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}


def test_aks_spot_selects_and_tolerates_the_scale_set_priority():
    spec = pod_spec(scheduling={"spot": "aks"})
    assert spec["nodeSelector"] == {"kubernetes.azure.com/scalesetpriority": "spot"}
    assert spec["tolerations"] == [{"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal",
                                    "value": "spot", "effect": "NoSchedule"}]
    assert spec["terminationGracePeriodSeconds"] == 30


def test_on_demand_grace_period_default_and_explicit_value():
    assert pod_spec()["terminationGracePeriodSeconds"] == 120
    assert pod_spec(job={"grace_period_seconds": 45})["terminationGracePeriodSeconds"] == 45


def test_custom_tolerations_node_selector_affinity_and_priority_pass_through():
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}
    spec = pod_spec(scheduling={
        "spot": "gke", "node_selector": {"pool": "train"}, "affinity": affinity, "priority_class": "batch",
        "tolerations": [{"key": "dedicated", "value": "ml", "effect": "NoExecute", "toleration_seconds": 60}]})
    assert spec["nodeSelector"] == {"cloud.google.com/gke-spot": "true", "pool": "train"}
    assert spec["tolerations"][-1] == {"key": "dedicated", "operator": "Equal", "value": "ml",
                                       "effect": "NoExecute", "tolerationSeconds": 60}
    assert spec["affinity"] == affinity
    assert spec["priorityClassName"] == "batch"


def test_multi_node_wiring_headless_service_subdomain_and_rendezvous_env():
    objs = rendered(resources={"nodes": 3})
    run = objs["Job"]["metadata"]["name"]
    service, job = objs["Service"], objs["Job"]
    assert service["metadata"]["name"] == run
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["selector"] == {"batch.kubernetes.io/job-name": run}
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 3
    assert job["spec"]["completionMode"] == "Indexed"
    spec = job["spec"]["template"]["spec"]
    assert spec["subdomain"] == run
    env = env_of(spec)
    assert env["MASTER_ADDR"]["value"] == f"{run}-0.{run}"
    assert env["NNODES"]["value"] == "3"
    assert env["NODE_RANK"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert {e: env[e]["value"] for e in ("RUN_ID", "MASTER_PORT", "EXPERIMENT_CONFIG")} == \
        {"RUN_ID": run, "MASTER_PORT": "29500", "EXPERIMENT_CONFIG": "/etc/experiment/config.yaml"}


def test_single_node_has_no_service_and_rendezvous_on_localhost():
    objs = rendered()
    assert set(objs) == {"ConfigMap", "Job"}
    spec = objs["Job"]["spec"]["template"]["spec"]
    assert "subdomain" not in spec
    assert env_of(spec)["MASTER_ADDR"]["value"] == "127.0.0.1"


def test_pvc_checkpoints_mount_the_claim_and_point_checkpoint_uri_at_it():
    spec = pod_spec(storage={"checkpoints": {"claim": "ckpt", "mount": "/ckpt"}})
    assert {"name": "checkpoints", "persistentVolumeClaim": {"claimName": "ckpt"}} in spec["volumes"]
    assert {"name": "checkpoints", "mountPath": "/ckpt"} in spec["containers"][0]["volumeMounts"]
    assert env_of(spec)["CHECKPOINT_URI"]["value"] == "/ckpt"
    assert not any(name.startswith("AWS_") for name in env_of(spec))


def test_s3_checkpoints_take_credentials_from_a_secret_reference_never_inline():
    spec = pod_spec(storage={"checkpoints": {"uri": "s3://bucket/runs", "secret": "s3-creds",
                                             "endpoint_url": "http://minio:9000"}})
    env = env_of(spec)
    assert env["CHECKPOINT_URI"]["value"] == "s3://bucket/runs"
    assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio:9000"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[key] == {"name": key, "valueFrom": {"secretKeyRef": {"name": "s3-creds", "key": key}}}
    assert not any(v["name"] == "checkpoints" for v in spec["volumes"])


def test_s3_checkpoints_with_a_service_account_use_its_cloud_identity():
    spec = pod_spec(storage={"checkpoints": {"uri": "s3://bucket/runs", "service_account": "trainer"}})
    assert spec["serviceAccountName"] == "trainer"
    assert not any(name.startswith("AWS_") for name in env_of(spec))


def test_dataset_and_model_claims_are_read_only_and_shm_is_memory_backed():
    spec = pod_spec(resources={"shm": "4Gi"})
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["dataset"]["persistentVolumeClaim"] == {"claimName": "data", "readOnly": True}
    assert volumes["model"]["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "4Gi"}
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["dataset"]["readOnly"] and mounts["model"]["readOnly"] and mounts["config"]["readOnly"]
    assert mounts["dshm"]["mountPath"] == "/dev/shm"


def test_config_map_holds_the_resolved_config_the_trainer_reads():
    objs = rendered(train={"lr": 1e-4})
    run = objs["Job"]["metadata"]["name"]
    assert objs["ConfigMap"]["metadata"]["name"] == f"{run}-config"
    assert "lr: 0.0001" in objs["ConfigMap"]["data"]["config.yaml"]
    assert "grace_period_seconds: 120" in objs["ConfigMap"]["data"]["config.yaml"]  # defaults resolved


def test_pod_failure_policy_follows_the_exit_code_table():
    job = rendered()["Job"]["spec"]
    assert job["podReplacementPolicy"] == "Failed"
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert job["podFailurePolicy"]["rules"] == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "Ignore", "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [EXIT_REQUEUE]}},
        {"action": "FailJob", "onExitCodes": {"containerName": "trainer", "operator": "In",
                                              "values": [EXIT_BAD_CONFIG]}},
    ]


def test_backoff_ttl_and_deadline():
    job = rendered(job={"backoff_limit": 5, "ttl_seconds_after_finished": 60, "active_deadline_seconds": 3600})
    assert {k: job["Job"]["spec"][k] for k in ("backoffLimit", "ttlSecondsAfterFinished", "activeDeadlineSeconds")} \
        == {"backoffLimit": 5, "ttlSecondsAfterFinished": 60, "activeDeadlineSeconds": 3600}
    assert "activeDeadlineSeconds" not in rendered()["Job"]["spec"]


def test_kueue_queue_suspends_the_job_and_labels_it():
    job = rendered(scheduling={"queue": "training"})["Job"]
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "training"
    assert "suspend" not in rendered()["Job"]["spec"]


def test_every_pod_meets_the_restricted_pod_security_standard():
    spec = pod_spec()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = spec["containers"][0]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}


def test_every_object_carries_the_run_labels_and_sweep_when_set():
    for obj in render(exp := make_experiment(sweep="lr-sweep"), run := "exp-run"):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "launch"
        assert labels["kubetrain.dev/run"] == run
        assert labels["kubetrain.dev/sweep"] == "lr-sweep"
        assert len(labels["kubetrain.dev/config-hash"]) == 8
    assert exp.sweep == "lr-sweep"


def test_rendering_is_pure_and_repeatable():
    exp = make_experiment(resources={"nodes": 2})
    assert render(exp, "exp-1") == render(exp, "exp-1")


def test_same_config_same_run_id_different_config_different_run_id():
    first = rendered()["Job"]["metadata"]["name"]
    assert rendered()["Job"]["metadata"]["name"] == first
    assert rendered(train={"lr": 1e-3})["Job"]["metadata"]["name"] != first


def test_fsdp_renders_for_gpu_runs():
    assert rendered(train={"strategy": "fsdp"}, resources={"gpu": {"count": 8}})["Job"]
