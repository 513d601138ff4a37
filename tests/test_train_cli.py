"""python -m mote_lib.train: one option per TrainConfig field, its help text from the field's documentation."""

import argparse
from dataclasses import fields

import pytest

from mote_lib.train import (
    FIELD_CHOICES,
    NOT_ON_COMMAND_LINE,
    CommandLineError,
    TrainConfig,
    add_config_arguments,
    field_help,
    parse_command_line,
)


def parse(*argv):
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_config_arguments(parser)
    return vars(parser.parse_args(list(argv)))


def test_every_field_is_an_option_with_documented_help():
    helps = field_help()
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    options = {a.dest: a for a in parser._actions}
    for f in fields(TrainConfig):
        if f.name in NOT_ON_COMMAND_LINE:
            continue
        assert f.name in options, f"--{f.name.replace('_', '-')} is missing"
        assert helps.get(f.name), f"TrainConfig's docstring does not document {f.name}"
        assert options[f.name].help == helps[f.name]


def test_options_left_out_keep_the_profile_and_given_ones_are_typed():
    assert parse() == {}
    assert parse("--base-layers", "2", "--lr", "1e-4", "--no-ta-cl", "--layers", "0,2") == {
        "base_layers": 2, "lr": 1e-4, "ta_cl": False, "layers": [0, 2]}
    assert parse("--temperatures", '{"retrieval": 0.05}', "--max-examples-per-dataset", "none") == {
        "temperatures": {"retrieval": 0.05}, "max_examples_per_dataset": None}
    config = TrainConfig.from_profile("cpu", **parse("--steps", "7"))
    assert (config.steps, config.batch_size) == (7, TrainConfig.from_profile("cpu").batch_size)


@pytest.mark.parametrize("argv", [["--variant", "moe"], ["--layers", "odd"], ["--steps", "many"], ["--bf16", "maybe"]])
def test_bad_values_are_refused_by_the_parser(argv):
    with pytest.raises(argparse.ArgumentError):
        parse(*argv)


def test_the_command_line_offers_exactly_the_model_variants():
    from mote_lib.model import VARIANTS

    assert FIELD_CHOICES["variant"] == VARIANTS


def test_parse_command_line_gives_the_config_and_refuses_a_finished_model(tiny_data, tmp_path):
    control, config = parse_command_line(["--profile", "smoke", "--output", str(tmp_path / "run"), "--steps", "3",
                                          "--data-root", tiny_data])
    assert (config.steps, config.profile, control["resume"]) == (3, "smoke", False)
    (tmp_path / "run" / "model").mkdir(parents=True)
    with pytest.raises(CommandLineError, match="finished model"):
        parse_command_line(["--output", str(tmp_path / "run"), "--data-root", tiny_data])
    parse_command_line(["--output", str(tmp_path / "run"), "--data-root", tiny_data, "--overwrite"])


def test_importing_the_trainer_package_loads_no_torch():
    import subprocess
    import sys

    code = "import sys, mote_lib.train; print(sorted(m for m in ('torch', 'datasets', 'transformers') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
