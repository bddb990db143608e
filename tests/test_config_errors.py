"""Every bad input gets one line naming the file, the line and the YAML path, and exit code 2."""

import pytest

from launcher.config.identity import config_hash
from launcher.schema import Experiment
from tests.factory import raw_config, run_launch

LONG_NAME = "a-very-long-experiment-name-that-goes-on-and-on-and-on"

BAD_INPUTS = [
    pytest.param(raw_config(trian={"epochs": 1}),
                 "exp.yaml:16: trian: unknown key; allowed: name, namespace, image, sweep, model, data, train, "
                 "resources, scheduling, storage, checkpoint, job", id="unknown-top-level-key"),
    pytest.param(raw_config(train={"epocs": 2}),
                 "exp.yaml:17: train.epocs: unknown key; allowed: epochs, max_steps, batch_size, "
                 "grad_accumulation, lr, weight_decay, warmup_ratio, precision, strategy, seed, "
                 "log_every_n_steps", id="unknown-nested-key"),
    pytest.param(raw_config(resources={"gpu": {"count": -1}}),
                 "exp.yaml:18: resources.gpu.count: Input should be greater than or equal to 0 (got -1)",
                 id="negative-gpu-count"),
    pytest.param(raw_config(resources={"gpu": {"count": 1, "mig_profile": "2g-5GB"}}),
                 "exp.yaml:19: resources.gpu.mig_profile: '2g-5GB' is not valid here (a MIG profile <compute "
                 "slices>g.<memory GB>gb such as 1g.10gb or 3g.71gb, as nvidia-smi lists it)",
                 id="malformed-mig-profile"),
    pytest.param(raw_config(resources={"memory": "4GB"}),
                 "exp.yaml:17: resources.memory: '4GB' is not valid here (a Kubernetes quantity such as 4Gi, "
                 "512Mi or 2; GB and MB are not units there)", id="memory-4GB"),
    pytest.param(raw_config(name=LONG_NAME),
                 f"exp.yaml:1: name: run id '{LONG_NAME}-{config_hash(Experiment.model_validate(raw_config(name=LONG_NAME)))}' "
                 "makes pod names of 71 characters (limit 63); shorten the name by 8", id="name-too-long"),
    pytest.param(raw_config(storage={"checkpoints": {"uri": "s3:/bucket/x"}}),
                 "exp.yaml:15: storage.checkpoints.uri: 's3:/bucket/x' is not valid here (expected "
                 "s3://bucket/prefix with a 3-63 character lowercase bucket name)", id="malformed-s3-uri"),
    pytest.param(raw_config(resources={"nodes": 2},
                            storage={"checkpoints": {"claim": "ckpt", "access_mode": "ReadWriteOnce"}}),
                 "exp.yaml:16: storage.checkpoints.access_mode: 2 nodes write checkpoints to claim 'ckpt', which "
                 "needs access_mode ReadWriteMany (a ReadWriteOnce claim mounts on one node only)",
                 id="multi-node-rwo-checkpoints"),
    pytest.param(raw_config(train={"strategy": "deepspeed"}),
                 "exp.yaml:17: train.strategy: Input should be 'ddp' or 'fsdp' (got 'deepspeed')",
                 id="unknown-strategy"),
]


@pytest.mark.parametrize("raw, message", BAD_INPUTS)
def test_bad_config_is_one_line_and_exit_2(write_config, raw, message):
    path = write_config(raw)
    result = run_launch("validate", str(path))
    assert result.returncode == 2
    assert result.stderr == f"error: {path.parent}/{message}\n"
    assert "Traceback" not in result.stdout + result.stderr


def test_yaml_syntax_error_names_its_line(write_config):
    path = write_config("name: exp\nmodel:\n  path: [unclosed\ndata: {}\n")
    result = run_launch("validate", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {path}:4: invalid YAML: ")


def test_set_on_a_path_that_does_not_exist(write_config):
    result = run_launch("validate", str(write_config(raw_config())), "--set", "train.learning_rate=1e-4")
    assert result.returncode == 2
    assert result.stderr == ("error: --set 'train.learning_rate=1e-4': no field train.learning_rate; allowed: "
                             "epochs, max_steps, batch_size, grad_accumulation, lr, weight_decay, warmup_ratio, "
                             "precision, strategy, seed, log_every_n_steps\n")


def test_set_value_of_the_wrong_type(write_config):
    result = run_launch("validate", str(write_config(raw_config())), "--set", "train.epochs=many")
    assert result.returncode == 2
    assert "train.epochs: Input should be a valid integer" in result.stderr


def test_missing_file_is_one_line():
    result = run_launch("validate", "configs/nope.yaml")
    assert (result.returncode, result.stderr) == (2, "error: configs/nope.yaml: cannot read: No such file or directory\n")


def test_unknown_output_format():
    result = run_launch("render", "configs/smoke.yaml", "-o", "toml")
    assert (result.returncode, result.stderr) == (
        2, "error: Invalid value for '-o' / '--output': 'toml' is not one of 'yaml', 'json'. "
           "(see `launch render --help`)\n")
