"""``python -m mote_lib.train``: the command line, checked before torch loads.

One option per ``TrainConfig`` field (``--batch-size``, ``--ta-cl/--no-ta-cl`` ...), its help read
from the field's documentation; a mistake (a bad value, a missing input folder, an output folder
that would be overwritten) is one line on stderr and exit status 2, in a fraction of a second
(``mote_lib.cli``). Only a valid command line imports the trainer (``mote_lib.train.loop``).

Example:
    >>> from mote_lib.train.cli import command_line_parser
    >>> command_line_parser().parse_args(["--output", "runs/x", "--steps", "7"]).steps
    7
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
from dataclasses import fields
from pathlib import Path

from mote_lib import cli
from mote_lib.cli import DEBUG_VARIABLE, CommandLineError, OneLineParser
from mote_lib.names import VARIANTS
from mote_lib.paths import data_dir
from mote_lib.profiles import PROFILES
from mote_lib.train.config import TRAINING_DATA, TrainConfig
from mote_lib.train.run_folder import check_output_folder

# Fields with a fixed set of values (the command line offers them as choices).
FIELD_CHOICES = {"variant": VARIANTS, "bf16": ("auto", "on", "off"), "training_data": TRAINING_DATA}
# Fields the command line does not generate: the profile is --profile.
NOT_ON_COMMAND_LINE = frozenset({"profile"})
PROG = "python -m mote_lib.train"


def run_command_line(command, argv: list[str] | None = None, prog: str = PROG) -> int:
    """``mote_lib.cli.run_command_line`` under this module's name."""
    return cli.run_command_line(command, argv, prog)


def field_help(cls=None) -> dict[str, str]:
    """Each field's help text, read from the ``Attributes:`` section of the dataclass's docstring.

    Example:
        >>> field_help()["max_seq_length"].startswith("tokens per training input")
        True
    """
    doc = inspect.getdoc(cls or TrainConfig).split("Attributes:", 1)[1]
    helps: dict[str, str] = {}
    names: list[str] = []
    for line in doc.splitlines():
        entry = re.match(r"^    ([a-z_][a-z0-9_, ]*):\s*(.*)$", line)
        if entry:
            names = [name.strip() for name in entry[1].split(",")]
            helps.update(dict.fromkeys(names, entry[2]))
        elif line.startswith("        ") and names:
            for name in names:
                helps[name] += " " + line.strip()
    return helps


def add_config_arguments(parser: argparse.ArgumentParser, cls=None) -> None:
    """One option per field of ``TrainConfig`` (``--batch-size``, ``--ta-cl/--no-ta-cl`` ...), help from its docstring.

    Options left out are absent from the parsed namespace, so they keep the profile's value
    (``none`` sets an optional field to None).
    """
    cls = cls or TrainConfig
    helps = field_help(cls)
    for f in fields(cls):
        if f.name in NOT_ON_COMMAND_LINE:
            continue
        option = "--" + f.name.replace("_", "-")
        kind = str(f.type)
        extra = {"help": helps.get(f.name, ""), "default": argparse.SUPPRESS}  # left out: not in the namespace
        if kind == "bool":
            parser.add_argument(option, action=argparse.BooleanOptionalAction, **extra)
        elif f.name == "layers":
            parser.add_argument(option, type=_layers, metavar="every|every_other|I,J,...", **extra)
        elif kind.startswith("dict"):
            parser.add_argument(option, type=_json_object, metavar="JSON", **extra)
        else:
            convert = {"int": int, "float": float}.get(kind.split(" | ")[0], str)
            parser.add_argument(option, type=_optional(convert) if "None" in kind else convert,
                                choices=FIELD_CHOICES.get(f.name), **extra)


def _layers(text: str) -> str | list[int]:
    if text in ("every", "every_other"):
        return text
    try:
        indices = [int(i) for i in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected every, every_other or comma-separated layer indices") from None
    if min(indices) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: layer indices count from 0; expected every, every_other or I,J,...")
    return indices


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({err.msg}); expected e.g. '{{\"retrieval\": 0.05}}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a JSON object, e.g. '{{\"retrieval\": 0.05}}'")
    return value


def _optional(convert):
    def parse(text: str):
        return None if text.lower() == "none" else convert(text)
    parse.__name__ = convert.__name__  # argparse names the type in its error message
    return parse


def command_line_parser() -> OneLineParser:
    import mote_lib.train  # its docstring, the --help text: what the trainer does and how to run it

    parser = OneLineParser(prog=PROG, description=mote_lib.train.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=sorted(PROFILES), help="the sizes every option left out takes")
    parser.add_argument("--output", required=True, help="the run's folder")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh in a folder that holds checkpoints or a finished model (they are deleted)")
    parser.add_argument("--debug", action="store_true", help=f"full tracebacks of command-line mistakes (or {DEBUG_VARIABLE}=1)")
    add_config_arguments(parser)
    return parser


def parse_command_line(argv: list[str]) -> tuple[dict, TrainConfig]:
    """The run's control options and its ``TrainConfig``, checked before anything heavy loads.

    Raises:
        CommandLineError: a bad value, a missing input folder, or an output folder that would be overwritten.
    """
    args = vars(command_line_parser().parse_args(argv))
    control = {name: args.pop(name) for name in ("profile", "output", "resume", "overwrite", "debug")}
    try:
        config = TrainConfig.from_profile(control["profile"], **args)  # what is left: the options given
    except ValueError as err:
        raise CommandLineError(str(err)) from None
    check_inputs(config)
    try:
        check_output_folder(Path(control["output"]), control["resume"], control["overwrite"])
    except (FileExistsError, FileNotFoundError) as err:
        raise CommandLineError(str(err)) from None
    return control, config


def check_inputs(config: TrainConfig) -> None:
    """The training data folder and a local base model exist, and ``--layers`` fits the base model."""
    if config.training_data != "hub":
        root = Path(config.data_root) if config.data_root else data_dir()
        option = "--data-root" if config.data_root else "the shipped data (MOTE_DATA or data/)"
        if not (root / "train").is_dir():
            raise CommandLineError(f"{option}: {root} holds no train/ folder; give a folder holding train/<task>/*.jsonl.gz")
    depth = _base_model_depth(config.base_model)
    if config.base_layers is not None and depth is not None:
        if not 1 <= config.base_layers <= depth:
            raise CommandLineError(f"--base-layers {config.base_layers}: the base model has layers 1..{depth}")
        depth = config.base_layers
    if isinstance(config.layers, list) and depth is not None and max(config.layers) >= depth:
        raise CommandLineError(f"--layers {','.join(map(str, config.layers))}: the model's layers are 0..{depth - 1}")


def _base_model_depth(name: str) -> int | None:
    """The base model's number of layers when it is a local folder (None for a built-in name or a Hub id)."""
    from mote_lib.base_models import INSTALL_HINTS

    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise CommandLineError(f"--base-model {name}: the folder holds no config.json; give a model folder or one of {sorted(INSTALL_HINTS)}")
        return json.loads((folder / "config.json").read_text()).get("num_hidden_layers")
    if name in INSTALL_HINTS or ("/" in name and not name.startswith((".", "/", "~"))):
        return None  # built in, or a Hub id: resolved (and reported) when the model loads
    raise CommandLineError(f"--base-model {name}: no such folder, and not a built-in name {sorted(INSTALL_HINTS)} or a Hub id owner/name")


def main(argv: list[str] | None = None) -> int:
    """``python -m mote_lib.train``: a command-line mistake is one line and exit status 2 (see ``run_command_line``)."""
    return run_command_line(_main, argv)


def _main(argv: list[str]) -> int:
    control, config = parse_command_line(argv)  # a mistake stops here, before torch is imported
    from mote_lib.offline import use_project_environment

    use_project_environment()  # offline mode and in-project caches, set where the command starts
    from mote_lib.train.loop import train

    summary = train(config, control["output"], resume=control["resume"], overwrite=control["overwrite"])
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one copy of the summary
        print(json.dumps(summary, indent=2))
    return 0
