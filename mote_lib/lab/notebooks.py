"""Run the numbered notebooks top to bottom with papermill (the README's main command).

Each notebook ``notebooks/NN_verb_object.ipynb`` is paired with a jupytext ``py:percent`` file
(``NN_verb_object.py``), which is the reviewed source. The runner executes each with the chosen
profile injected into the cell tagged ``parameters``, and prints each notebook's wall time.

The committed notebooks are the notebooks of record, executed in ``MAIN_PROFILE`` (``cpu``): that
profile refreshes the ``.ipynb`` from the ``.py`` when the ``.py`` is newer and executes it in place.
Every other profile writes its executed copies to ``runs/notebooks/<profile>/`` (``executed_copy``)
and leaves the committed ones untouched.

    python -m mote_lib.lab.notebooks --profile cpu            # all notebooks, the committed copies
    python -m mote_lib.lab.notebooks --profile smoke 00 03    # only those, into runs/notebooks/smoke/

Outputs as a reader wants them (``scan_outputs`` checks a saved notebook; the tests run it on every
committed one): every notebook's first cell after its parameters calls ``setup_notebook`` (text
progress bars, no third-party noise), and ``run_notebook`` tidies what papermill saved (one final
line per progress bar, no machine paths in the metadata).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

from mote_lib.offline import use_project_environment
from mote_lib.paths import PROJECT_ROOT, runs_dir
from mote_lib.profiles import MAIN_PROFILE, PROFILES

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


def executed_copy(source: Path, profile: str) -> Path | None:
    """Where ``profile``'s run of ``source`` is saved: ``None`` (the committed ``.ipynb``) for the
    profile of record, else ``runs/notebooks/<profile>/<name>.ipynb`` (ignored by git)."""
    return None if profile == MAIN_PROFILE else runs_dir() / "notebooks" / profile / f"{source.stem}.ipynb"


def run_notebook(source: Path, profile: str, output: Path | None = None) -> float:
    """Execute one notebook with papermill; return its wall time in seconds.

    Without ``output`` the notebook's ``.ipynb`` twin is executed in place (what the README's main
    command does, so the committed notebooks show real outputs). With ``output`` the repository is
    left untouched: the ``.py`` is converted next to ``output`` and executed there (what the tests do).
    The kernel runs with ``BATCH_ENV`` set (see ``setup_notebook``), and the saved notebook is
    tidied by ``tidy_notebook`` (also when a cell failed: the error is then what the reader sees).
    """
    import jupytext
    import papermill

    if output is None:
        notebook = output = sync_notebook(source)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        notebook = output.with_name(output.stem + ".input.ipynb")
        jupytext.write(jupytext.read(source), notebook)
    start = time.perf_counter()
    try:
        with _environment({BATCH_ENV: "1"}):  # the kernel inherits this process's environment
            papermill.execute_notebook(
                str(notebook), str(output), parameters={"profile": profile},
                kernel_name="python3", cwd=str(source.parent), progress_bar=False,
            )
    finally:
        if output.is_file():
            tidy_notebook(output)
        if notebook != output:
            notebook.unlink(missing_ok=True)
    return time.perf_counter() - start


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables inside the block, then restore the previous values."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ----------------------------------------------------------------------------- inside the notebooks

# Set in the kernel's environment by ``run_notebook``: the notebook is executed to be saved and read
# later (papermill), not watched live.
BATCH_ENV = "MOTE_NOTEBOOK_BATCH"


def setup_notebook() -> None:
    """What every numbered notebook runs first (the cell after its parameters): the project's environment, readable outputs.

    - **Environment**: offline mode and every cache inside the project (``mote_lib.offline.use_project_environment``),
      as ``scripts/env.sh`` sets them for a shell; variables already set are kept.
    - **Progress bars**: the library's bars are ``tqdm.auto``'s. Live in JupyterLab with ipywidgets
      (the ``notebooks`` extra) they are widgets; without ipywidgets they are text bars, which is
      as intended, so tqdm's advice to install ipywidgets (a ``TqdmWarning``) is not shown. In a
      notebook executed by ``run_notebook`` (``BATCH_ENV``) they are always text bars: a saved
      widget shows only its first frame, while a text bar is tidied to its final line
      (``tidy_notebook``). transformers' own bars (one "Loading weights" bar per model loaded) are
      hidden; the hub's download bars are not.
    - **sklearn's** ``UndefinedMetricWarning``: mteb's classification scores (macro precision and F1)
      on the small evaluation samples of the smoke and cpu profiles often meet a class that the
      classifier never predicted; sklearn then counts that class's precision as 0 (its default,
      which mteb keeps) and warns, once per classifier fit: hundreds of identical lines per notebook. The scores
      are right; the warning is hidden for this kernel (this category only).

    Must run before anything imports ``tqdm.auto`` (the notebooks' import cell comes after it).
    """
    import warnings

    use_project_environment()
    from tqdm import TqdmWarning

    warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
    import tqdm.asyncio
    import tqdm.auto
    import tqdm.autonotebook
    import tqdm.std

    if os.environ.get(BATCH_ENV):
        # tqdm.auto's choice without ipywidgets (tqdm.auto.trange looks tqdm up at each call)
        tqdm.auto.tqdm = tqdm.asyncio.tqdm
        tqdm.autonotebook.tqdm, tqdm.autonotebook.trange = tqdm.std.tqdm, tqdm.std.trange

    from sklearn.exceptions import UndefinedMetricWarning

    warnings.filterwarnings("ignore", category=UndefinedMetricWarning)

    from transformers.utils import logging as transformers_logging

    if hasattr(transformers_logging, "set_tqdm_hook"):  # transformers 5 (it draws the bar per model; older ones have no hook)
        transformers_logging.set_tqdm_hook(lambda factory, args, kwargs: transformers_logging.EmptyTqdm(*args, **kwargs))


def widgets_unavailable() -> str | None:
    """Why an explore cell cannot show widgets here (a sentence), or ``None`` when it can."""
    if os.environ.get(BATCH_ENV):
        return "this copy of the notebook was executed by papermill, and widgets live only in a running notebook"
    if importlib.util.find_spec("ipywidgets") is None:
        return "ipywidgets is not installed (pip install -e '.[notebooks]')"
    return None


# ----------------------------------------------------------------------------- saved outputs

# A cell whose text outputs (streams, tables, reprs; not images) exceed this many characters is
# flagged by ``scan_outputs``: a reader scrolls past it, and it is usually a loop printing.
OUTPUT_CHAR_LIMIT = 20_000
_WARNING_LINE = re.compile(r"\b[A-Za-z]*Warning\b[:(]|^\s*(?:Warning|WARNING)\b")
_TRACEBACK = "Traceback (most recent call last)"
# Paths of a machine in general, wherever the notebook ran: folders under which only a machine's
# own files live, and where Python keeps installed packages.
_MACHINE_PATH_PARTS = ("/work/", "/root/", "/home/", "/Users/", "/tmp/", "/var/folders/", "/private/var/",
                       "site-packages", "dist-packages", "C:\\Users\\")


def _machine_paths() -> re.Pattern:
    """One pattern for the absolute paths of this machine: the generic ones and this run's own folders."""
    own = {str(PROJECT_ROOT), sys.prefix, str(Path.home()), tempfile.gettempdir()}
    own = {p.rstrip("/") for p in own if p.count("/") >= 2 or p == str(Path.home())}  # not "/usr" or "/"
    own.discard("")
    alternatives = [re.escape(part) for part in _MACHINE_PATH_PARTS]
    alternatives += [re.escape(path) + r"(?![\w.-])" for path in sorted(own, key=len, reverse=True)]
    return re.compile(r"(?<![\w.-])(?:" + "|".join(alternatives) + ")")


def _output_texts(output) -> list[str]:
    """The text an output shows or stores (images and widget states left out)."""
    kind = output.get("output_type")
    if kind == "stream":
        return [output.get("text", "")]
    if kind == "error":
        return [output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])]
    texts = []
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") or mime in ("application/json", "application/javascript"):
            texts.append(value if isinstance(value, str) else json.dumps(value))
    return texts


def scan_outputs(notebook, limit: int = OUTPUT_CHAR_LIMIT) -> list[str]:
    """What a reader should not find in a saved notebook's outputs: one line per problem.

    The outputs and the metadata (papermill's included) are read, not the sources. A problem is
    one of: ``warning`` (a ``...Warning:`` or ``Warning`` line anywhere, or a stderr line that
    says warning), ``traceback`` (an error output, or a printed traceback), ``path`` (an absolute
    path of a machine: ``/work/``, ``/root/``, ``/home/``, ``/tmp/``, ``site-packages``, ..., or
    this machine's project, virtual-env, home or temp folder), ``size`` (more than ``limit``
    characters of text output in one cell; images are not counted). Each kind is reported once
    per cell, with its first occurrence and how many more there are.

    Args:
        notebook: a path to an ``.ipynb``, or a notebook read by nbformat.
        limit: the most characters of text output a cell may have.

    Example:
        >>> import nbformat
        >>> warned = nbformat.v4.new_output("stream", name="stderr", text="/tmp/x.py:3: FutureWarning: old\\n")
        >>> scan_outputs(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[warned])]))
        ["notebook: cell 0 (warning): '/tmp/x.py:3: FutureWarning: old'", "notebook: cell 0 (path): '/tmp/x.py:3: FutureWarning: old'"]
    """
    import nbformat

    name = "notebook"
    if isinstance(notebook, str | Path):
        name = Path(notebook).name
        notebook = nbformat.read(str(notebook), as_version=4)
    paths = _machine_paths()
    problems = []

    def report(where: str, kind: str, lines: list[str]) -> None:
        if lines:
            more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
            problems.append(f"{name}: {where} ({kind}): {lines[0].strip()[:160]!r}{more}")

    def metadata_paths(metadata) -> list[str]:
        return [line for line in json.dumps(metadata, indent=1).splitlines() if paths.search(line)]

    report("notebook metadata", "path", metadata_paths(notebook.get("metadata", {})))
    for index, cell in enumerate(notebook.cells):
        report(f"cell {index} metadata", "path", metadata_paths(cell.get("metadata", {})))
        found = {"warning": [], "traceback": [], "path": []}
        size = 0
        for output in cell.get("outputs", []):
            texts = _output_texts(output)
            size += sum(len(text) for text in texts)
            stderr = output.get("output_type") == "stream" and output.get("name") == "stderr"
            if output.get("output_type") == "error":
                found["traceback"].append(f"{output.get('ename')}: {output.get('evalue')}")
            for line in "\n".join(texts).splitlines():
                if _WARNING_LINE.search(line) or (stderr and "warning" in line.lower()):
                    found["warning"].append(line)
                if _TRACEBACK in line:
                    found["traceback"].append(line)
                if paths.search(line):
                    found["path"].append(line)
        for kind, lines in found.items():
            report(f"cell {index}", kind, lines)
        if size > limit:
            problems.append(f"{name}: cell {index} (size): {size} characters of text output, more than {limit}")
    return problems


def tidy_notebook(path: Path) -> None:
    """Rewrite an executed notebook as a reader should get it (``run_notebook`` calls it).

    - papermill's ``input_path`` and ``output_path`` (absolute paths of this machine) become the
      path inside the project, or the file name alone for a notebook outside it;
    - adjacent outputs of one stream are joined and the carriage returns and backspaces resolved,
      as a terminal shows them: a text progress bar keeps its final line, not every redraw.
    """
    import nbformat

    notebook = nbformat.read(str(path), as_version=4)
    record = notebook.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if record.get(key):
            record[key] = _portable_path(record[key])
    for cell in notebook.cells:
        if cell.get("outputs"):
            cell.outputs = _joined_streams(cell.outputs)
    nbformat.write(notebook, str(path))


def _portable_path(path: str) -> str:
    """``path`` relative to the project when inside it, else its file name."""
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT.resolve()).as_posix()
    except ValueError:
        return Path(path).name


def _joined_streams(outputs: list) -> list:
    joined = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            previous["text"] += output["text"]
        else:
            joined.append(output)
    for output in joined:
        if output.get("output_type") == "stream":
            output["text"] = resolve_control_characters(output["text"])
    return joined


_BACKSPACE = re.compile("[^\n\b]\b")  # a character and the backspace that deletes it


def resolve_control_characters(text: str) -> str:
    """``text`` as a terminal shows it: each line keeps what follows its last carriage return.

    A progress bar redraws its whole line after a carriage return (padding with spaces when it got
    shorter), so the last redraw is the line; a backspace deletes the character before it.

    Example:
        >>> resolve_control_characters("\\rtrain:   0%|  | 0/4\\rtrain: 100%|##| 4/4  \\nnext\\b\\bw\\n")
        'train: 100%|##| 4/4\\nnew\\n'
    """
    while _BACKSPACE.search(text):
        text = _BACKSPACE.sub("", text)
    text = text.replace("\b", "")
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            line = next((part for part in reversed(line.split("\r")) if part), "").rstrip()
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    parser.add_argument("only", nargs="*", help="run only notebooks whose names start with these prefixes")
    args = parser.parse_args(argv)
    use_project_environment()  # for papermill and the kernels it starts (they inherit this process's environment)
    sources = [s for s in notebook_sources() if not args.only or s.name.startswith(tuple(args.only))]
    if not sources:
        print(f"[notebooks] no numbered notebooks found in {NOTEBOOK_DIR}" + (f" matching {args.only}" if args.only else ""))
        return 0
    times = {}
    for source in sources:
        print(f"[notebooks] {source.name} (profile {args.profile}) ...", flush=True)
        output = executed_copy(source, args.profile)
        times[source.stem] = round(run_notebook(source, args.profile, output), 1)
        print(f"[notebooks] {source.name}: {times[source.stem]} s" + (f" -> {output}" if output else ""), flush=True)
        record_wall_time(source.stem, times[source.stem], args.profile)
    print(json.dumps({"profile": args.profile, "wall_time_s": times}, indent=2))
    return 0


def record_wall_time(notebook: str, seconds: float, profile: str) -> None:
    """Keep the latest wall time of each notebook in ``results/<profile>/notebook_times.csv``.

    The time includes whatever the notebook trained or evaluated because it was not cached yet, so
    a first run and a re-run measure different things; the 1-minute load average at the end says
    whether other work shared the cores (above the core count: the time is inflated).
    """
    from datetime import datetime

    import pandas as pd

    from mote_lib.lab.experiments import read_result, results_dir, write_result

    table = pd.DataFrame()
    if (results_dir(profile) / "notebook_times.csv").is_file():
        table = read_result("notebook_times", profile)
        table = table[table["notebook"] != notebook]
    row = {"notebook": notebook, "wall_time_s": seconds, "profile": profile, "machine": _machine(),
           "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
           "finished_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M")}
    write_result(pd.concat([table, pd.DataFrame([row])], ignore_index=True).sort_values("notebook"),
                 "notebook_times", profile)


def _machine() -> str:
    """The GPU, or the CPU model with the instruction sets its speed depends on, and its cores."""
    import torch

    from mote_lib.machine import cpu_model_and_flags

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    cpu, flags = cpu_model_and_flags()
    isa = "AVX-512 + bf16" if "avx512_bf16" in flags else "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{cpu} ({isa}), {os.cpu_count()} cores"


if __name__ == "__main__":
    raise SystemExit(main())
