"""`launch validate CONFIG...`: check each file on its own, so CI checks `configs/*.yaml` in one call.

`-o json` prints one array, an object per file in the order given: {"file", "run_id" (experiment) or null,
"sweep" and "trials" (sweep file) or null, "warnings": [str], "error": str or null}.
"""

from pathlib import Path

from ..errors import ConfigError


def check(config: Path, overrides: list[str], run_id: str | None) -> dict:
    """The result of one file; a ConfigError becomes its "error" (one line) instead of stopping the rest."""
    result = {"file": str(config), "run_id": None, "sweep": None, "trials": None, "warnings": [], "error": None}
    try:
        result.update(_check(config, overrides, run_id))
    except ConfigError as exc:
        result["error"] = str(exc)
    return result


def _check(config: Path, overrides: list[str], run_id: str | None) -> dict:
    from ..config.loading import load_run
    from ..render.manifests import warnings
    from ..sweeps.loading import is_sweep_file

    if is_sweep_file(config):
        from .sweep import load_trials

        if overrides or run_id:
            raise ConfigError(f"{config}: a sweep file takes no --set or --run-id (set base.overrides instead)")
        loaded, trials = load_trials(config, None)
        return {"sweep": loaded.sweep.name, "trials": len(trials)}
    run = load_run(config, overrides, run_id)
    return {"run_id": run.run_id, "warnings": warnings(run.experiment)}
