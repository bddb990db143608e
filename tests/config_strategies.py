"""Hypothesis strategies for valid experiment configs: every section and every option, in the combinations
the schema allows. A generated config that the schema refuses is a bug of these strategies, not a finding."""

from hypothesis import strategies as st

from launcher.schema.presets import SPOT_PRESETS, device_plugin_for

SHIPPED_PRIORITY_CLASS = "training-preemptible"  # manifests/priorityclass.yaml; admission requires it to exist


def regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


dns_label = regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?")
subdomain = regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?){0,2}")
label_name = regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,30}[A-Za-z0-9])?")
label_key = st.one_of(label_name, st.builds("{}/{}".format, subdomain, label_name))
label_value = st.one_of(st.just(""), label_name)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
mount_path = regex(r"/[A-Za-z0-9_.-]{1,12}(/[A-Za-z0-9_.-]{1,8}){0,2}")


def quantity_forms(base_units: int, decimal: bool) -> st.SearchStrategy[str]:
    """The same amount written in the forms the schema accepts: plain, binary or decimal suffix, exponent."""
    forms = [st.just(str(base_units)), st.just(f"{base_units}e0")]
    for suffix, size in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("k", 10**3), ("M", 10**6), ("G", 10**9)):
        if base_units % size == 0:
            forms.append(st.just(f"{base_units // size}{suffix}"))
    if decimal:
        forms.append(st.just(f"{base_units * 1000}m"))
    return st.one_of(forms)


@st.composite
def cpu(draw) -> str:
    millis = draw(st.integers(1, 256_000))
    if millis % 1000 == 0:
        return draw(quantity_forms(millis // 1000, decimal=True))
    return draw(st.sampled_from([f"{millis}m", f"{millis / 1000:.3f}".rstrip("0")]))


@st.composite
def memory_and_shm(draw) -> tuple[str, str]:
    memory = draw(st.integers(2, 2**40))
    shm = draw(st.integers(1, memory - 1))
    return draw(quantity_forms(memory, decimal=False)), draw(quantity_forms(shm, decimal=False))


mig_profile = st.builds("{}g.{}gb".format, st.integers(1, 7), st.integers(1, 200))


@st.composite
def gpu(draw, spot: str | None) -> dict:
    """Whole GPUs, MIG slices or a share, for either device plugin, with only the options it honours."""
    plugin = draw(st.sampled_from([None, "nvidia", "gke"]))
    resolved = plugin or device_plugin_for(spot)
    kind = draw(st.sampled_from(["cpu", "whole", "mig", "shared"]))
    out: dict = {} if plugin is None else {"device_plugin": plugin}
    if kind == "cpu":
        return out
    out["count"] = draw(st.integers(1, 16)) if kind == "whole" else 1
    if kind == "mig":
        out["mig_profile"] = draw(mig_profile)
        if resolved == "nvidia" and draw(st.booleans()):
            out["mig_strategy"] = "single"
            out["product"] = draw(regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,30}[A-Za-z0-9])?"))
    if kind == "shared":
        out["shared"] = True
        if resolved == "gke" and draw(st.booleans()):
            out["max_shared_clients"] = draw(st.integers(2, 48))
    if kind == "whole" and resolved == "nvidia" and draw(st.booleans()):
        out["product"] = draw(label_name)
    return out


@st.composite
def toleration(draw) -> dict:
    key = draw(st.one_of(st.none(), label_key))
    operator = "Exists" if key is None else draw(st.sampled_from(["Equal", "Exists"]))
    out: dict = {"operator": operator}
    if key is not None:
        out["key"] = key
    if operator == "Equal":
        out["value"] = draw(label_value)
    effect = draw(st.sampled_from([None, "NoSchedule", "PreferNoSchedule", "NoExecute"]))
    if effect:
        out["effect"] = effect
    if effect == "NoExecute" and draw(st.booleans()):
        out["toleration_seconds"] = draw(st.integers(0, 2**63 - 1))
    return out


@st.composite
def node_requirement(draw) -> dict:
    operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]))
    out = {"key": draw(label_key), "operator": operator}
    if operator in ("In", "NotIn"):
        out["values"] = draw(st.lists(label_value, min_size=1, max_size=3))
    if operator in ("Gt", "Lt"):
        out["values"] = [str(draw(st.integers(0, 2**63 - 1)))]
    return out


@st.composite
def node_term(draw) -> dict:
    term = {"matchExpressions": draw(st.lists(node_requirement(), max_size=2))}
    if draw(st.booleans()):
        term["matchFields"] = [{"key": "metadata.name", "operator": draw(st.sampled_from(["In", "NotIn"])),
                                "values": [draw(subdomain)]}]
    return term


@st.composite
def label_selector(draw) -> dict:
    operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
    expression = {"key": draw(label_key), "operator": operator}
    if operator in ("In", "NotIn"):
        expression["values"] = draw(st.lists(label_value, min_size=1, max_size=3))
    return {"matchLabels": draw(st.dictionaries(label_key, label_value, max_size=2)),
            "matchExpressions": draw(st.lists(st.just(expression), max_size=1))}


@st.composite
def pod_term(draw) -> dict:
    term = {"topologyKey": draw(label_key), "namespaces": draw(st.lists(dns_label, max_size=2))}
    if draw(st.booleans()):
        term["labelSelector"] = draw(label_selector())
    if draw(st.booleans()):
        term["namespaceSelector"] = draw(label_selector())
    return term


@st.composite
def pod_affinity(draw) -> dict:
    return {"requiredDuringSchedulingIgnoredDuringExecution": draw(st.lists(pod_term(), max_size=2)),
            "preferredDuringSchedulingIgnoredDuringExecution": draw(st.lists(st.fixed_dictionaries(
                {"weight": st.integers(1, 100), "podAffinityTerm": pod_term()}), max_size=2))}


@st.composite
def affinity(draw) -> dict | None:
    """The Kubernetes Affinity object in every part the schema takes."""
    if draw(st.booleans()):
        return None
    out = {}
    if draw(st.booleans()):
        node: dict = {"preferredDuringSchedulingIgnoredDuringExecution": draw(st.lists(st.fixed_dictionaries(
            {"weight": st.integers(1, 100), "preference": node_term()}), max_size=2))}
        if draw(st.booleans()):
            node["requiredDuringSchedulingIgnoredDuringExecution"] = {
                "nodeSelectorTerms": draw(st.lists(node_term(), min_size=1, max_size=2))}
        out["nodeAffinity"] = node
    for kind in ("podAffinity", "podAntiAffinity"):
        if draw(st.booleans()):
            out[kind] = draw(pod_affinity())
    return out


@st.composite
def storage(draw) -> dict:
    dataset_mount, model_mount, checkpoint_mount = draw(st.lists(mount_path, min_size=3, max_size=3, unique=True))
    if draw(st.booleans()):
        checkpoints = {"claim": draw(dns_label), "mount": checkpoint_mount,
                       "access_mode": "ReadWriteMany", "keep_last": draw(st.integers(1, 100))}
    else:
        checkpoints = {"uri": draw(regex(r"s3://[a-z0-9][a-z0-9.-]{1,20}[a-z0-9](/[a-z0-9/_-]{0,20})?"))}
        credential = draw(st.sampled_from([None, "secret", "service_account"]))
        if credential:
            checkpoints[credential] = draw(dns_label)
        if draw(st.booleans()):
            checkpoints["endpoint_url"] = draw(regex(r"https?://[a-z0-9.-]{1,20}(:[0-9]{2,5})?"))
    return {"dataset": {"claim": draw(dns_label), "mount": dataset_mount},
            "model": {"claim": draw(dns_label), "mount": model_mount}, "checkpoints": checkpoints}


@st.composite
def experiments(draw, namespace: str) -> dict:
    """A raw config the schema accepts, in `namespace`, exercising every section."""
    spot = draw(st.sampled_from([None, *SPOT_PRESETS]))
    gpus = draw(gpu(spot))
    memory, shm = draw(memory_and_shm())
    random_init = draw(st.one_of(st.none(), st.fixed_dictionaries({
        "hidden_size": st.just(8), "num_layers": st.integers(1, 4), "num_heads": st.just(2),
        "intermediate_size": st.integers(1, 64)})))
    return {
        "name": draw(regex(r"[a-z]([-a-z0-9]{0,14}[a-z0-9])?")),
        "namespace": namespace,
        "image": draw(regex(r"[a-z0-9.-]{1,20}(:[0-9]{2,5})?/[a-z0-9/_-]{1,20}(:[A-Za-z0-9_.-]{1,10})?")),
        "sweep": draw(st.one_of(st.none(), dns_label)),
        "model": {"path": draw(text), "num_labels": draw(st.one_of(st.none(), st.integers(2, 10**6))),
                  "max_seq_len": draw(st.integers(1, 8192)), "random_init": random_init},
        "data": {"train": draw(text), "validation": draw(text), "test": draw(st.one_of(st.none(), text)),
                 "format": draw(st.sampled_from(["jsonl", "csv", "parquet"])), "text_field": draw(text),
                 "label_field": draw(text), "num_workers": draw(st.integers(0, 64))},
        "train": {"epochs": draw(st.integers(1, 10**6)), "max_steps": draw(st.one_of(st.none(), st.integers(1))),
                  "batch_size": draw(st.integers(1, 4096)), "grad_accumulation": draw(st.integers(1, 64)),
                  "lr": draw(st.floats(1e-9, 10)), "weight_decay": draw(st.floats(0, 1)),
                  "warmup_ratio": draw(st.floats(0, 0.99)),
                  "precision": draw(st.sampled_from(["32", "bf16-mixed", "16-mixed"])),
                  "strategy": draw(st.sampled_from(["ddp", "fsdp"])) if gpus.get("count") else "ddp",
                  "seed": draw(st.integers(0, 2**32 - 1)), "log_every_n_steps": draw(st.integers(1, 1000))},
        "resources": {"nodes": draw(st.integers(1, 64)), "gpu": gpus,
                      "cpu_processes_per_node": draw(st.integers(1, 64)), "cpu": draw(cpu()),
                      "memory": memory, "shm": shm},
        "scheduling": {"spot": spot, "tolerations": draw(st.lists(toleration(), max_size=3)),
                       "node_selector": draw(st.dictionaries(label_key, label_value, max_size=3)),
                       "affinity": draw(affinity()),
                       "priority_class": draw(st.sampled_from([None, SHIPPED_PRIORITY_CLASS])),
                       "queue": draw(st.one_of(st.none(), dns_label)),
                       "karpenter_do_not_disrupt": draw(st.booleans())},
        "storage": draw(storage()),
        "checkpoint": {"every_n_steps": draw(st.one_of(st.none(), st.integers(1))),
                       "every_n_minutes": draw(st.one_of(st.none(), st.floats(0.01, 10**6))),
                       "on_preemption": draw(st.booleans()),
                       "max_requeues_without_progress": draw(st.integers(1, 100))},
        "job": {"backoff_limit": draw(st.integers(0, 2**31 - 1)),
                "grace_period_seconds": draw(st.one_of(st.none(), st.integers(1, 2**63 - 1))),
                "ttl_seconds_after_finished": draw(st.one_of(st.none(), st.integers(0, 2**31 - 1))),
                "active_deadline_seconds": draw(st.one_of(st.none(), st.integers(1, 2**63 - 1))),
                "master_port": draw(st.integers(1024, 65535)), "peer_timeout_seconds": draw(st.integers(1, 2**31 - 1))},
    }
