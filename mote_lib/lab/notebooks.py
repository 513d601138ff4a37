"""Run the numbered notebooks top to bottom with papermill (the README's main command).

Each notebook ``notebooks/NN_verb_object.ipynb`` is paired with a jupytext ``py:percent`` file
(``NN_verb_object.py``), which is the reviewed source. The runner refreshes the ``.ipynb`` from the
``.py`` when the ``.py`` is newer, executes it in place with the chosen profile injected into the
cell tagged ``parameters``, and prints each notebook's wall time.

    python -m mote_lib.lab.notebooks --profile cpu            # all notebooks
    python -m mote_lib.lab.notebooks --profile smoke 00 03    # only those whose names start so
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC
from pathlib import Path

from mote_lib.paths import PROJECT_ROOT
from mote_lib.profiles import PROFILES

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"


def notebook_sources(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks' jupytext sources (``NN_*.py``), in order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))


def _cell_sources(notebook) -> list[tuple[str, str]]:
    # papermill adds a cell with the injected parameters to an executed notebook: not part of the source.
    return [
        (cell.cell_type, cell.source.strip())
        for cell in notebook.cells
        if "injected-parameters" not in cell.metadata.get("tags", [])
    ]


def sync_notebook(source: Path) -> Path:
    """Make ``source``'s ``.ipynb`` twin hold the same cells as the ``.py``; return the twin.

    The cells are compared, not the modification times: a fresh clone gives both files the
    checkout time, and an executed ``.ipynb`` whose cells match the ``.py`` is kept with its outputs.
    """
    import jupytext

    target = source.with_suffix(".ipynb")
    notebook = jupytext.read(source)
    if not target.exists() or _cell_sources(jupytext.read(target)) != _cell_sources(notebook):
        jupytext.write(notebook, target)
    return target


def run_notebook(source: Path, profile: str, output: Path | None = None) -> float:
    """Execute one notebook with papermill; return its wall time in seconds.

    Without ``output`` the notebook's ``.ipynb`` twin is executed in place (what the README's main
    command does, so the committed notebooks show real outputs). With ``output`` the repository is
    left untouched: the ``.py`` is converted next to ``output`` and executed there (what the tests do).
    """
    import jupytext
    import papermill

    if output is None:
        notebook = output = sync_notebook(source)
    else:
        notebook = output.with_name(output.stem + ".input.ipynb")
        jupytext.write(jupytext.read(source), notebook)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(notebook), str(output), parameters={"profile": profile},
        kernel_name="python3", cwd=str(source.parent), progress_bar=False,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    parser.add_argument("only", nargs="*", help="run only notebooks whose names start with these prefixes")
    args = parser.parse_args(argv)
    sources = [s for s in notebook_sources() if not args.only or s.name.startswith(tuple(args.only))]
    if not sources:
        print(f"[notebooks] no numbered notebooks found in {NOTEBOOK_DIR}" + (f" matching {args.only}" if args.only else ""))
        return 0
    times = {}
    for source in sources:
        print(f"[notebooks] {source.name} (profile {args.profile}) ...", flush=True)
        times[source.stem] = round(run_notebook(source, args.profile), 1)
        print(f"[notebooks] {source.name}: {times[source.stem]} s", flush=True)
        record_wall_time(source.stem, times[source.stem], args.profile)
    print(json.dumps({"profile": args.profile, "wall_time_s": times}, indent=2))
    return 0


def record_wall_time(notebook: str, seconds: float, profile: str) -> None:
    """Keep the latest wall time of each notebook in ``results/<profile>/notebook_times.csv``.

    The time includes whatever the notebook trained or evaluated because it was not cached yet, so
    a first run and a re-run measure different things.
    """
    from datetime import datetime

    import pandas as pd

    from mote_lib.lab.experiments import read_result, results_dir, write_result

    table = pd.DataFrame()
    if (results_dir(profile) / "notebook_times.csv").is_file():
        table = read_result("notebook_times", profile)
        table = table[table["notebook"] != notebook]
    row = {"notebook": notebook, "wall_time_s": seconds, "profile": profile, "machine": _machine(),
           "finished_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M")}
    write_result(pd.concat([table, pd.DataFrame([row])], ignore_index=True).sort_values("notebook"),
                 "notebook_times", profile)


def _machine() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {os.cpu_count()} cores"


if __name__ == "__main__":
    raise SystemExit(main())
