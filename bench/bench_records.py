"""The benchmark's records: ``bench/results.json`` (the run, plus every machine kind's latest verdicts)
and a dated Markdown section appended to ``bench/RESULTS.md``.

Both name the machine as ``kind_and_cores``: ``mote_lib.machine.machine_kind`` (as the runner's
estimate does) and the core count, e.g. "AMD EPYC (AVX2), 2 cores".
"""

from __future__ import annotations

import json
from pathlib import Path

from bench_peak import CPU_FLAGS

from mote_lib.atomic import write_text_atomic


def kind_and_cores(machine: dict) -> str:
    """``machine_info``'s machine kind and its cores: "AMD EPYC (AVX2), 2 cores"."""
    return f"{machine['kind']}, {machine['cores']} cores"


def history_section(result: dict) -> str:
    """The run as a Markdown section for bench/RESULTS.md."""
    m, lines = result["machine"], []
    flags = ", ".join(f for f, on in m["flags"].items() if on) or "none of " + ", ".join(CPU_FLAGS)
    load = m["load_average_at_start"]
    lines += [f"## {result['date']} · CPU: {kind_and_cores(m)}, {m['threads']} threads, torch {m['torch']} (flags: {flags})", "",
              f"### `{result['command']}` at commit {result['commit']}", "",
              f"Load average at the start {load:.2f}" + ("" if m["idle_at_start"] else " (**not idle**: these figures are not results)")
              + f"; run took {result['wall_s'] / 60:.1f} min. fp32 matmul peak {result['peak']['fp32_gflops']:.1f} GFLOP/s "
              f"(start {result['peak']['start_gflops']:.1f}, end {result['peak']['end_gflops']:.1f}; {result['peak']['size']}^3 sgemm).", "",
              "| target | measured | verdict |", "|---|---:|---|"]
    for key, v in result["targets"].items():
        figure = "-" if v["figure"] is None else f"{v['figure']:.3f}"
        lines.append(f"| {key.replace('_', ' ')} ({v['target']}) | {figure} | {v['status']} |")
    if result["targets"]["training_share_of_fp32_peak"].get("measured_with"):
        lines += ["", f"Training share of peak judged on {result['targets']['training_share_of_fp32_peak']['measured_with']}."]
    training = result.get("training")
    if training:
        lines += ["", f"Training, {training['timed_steps']} step(s) of {training['batch_size']} x {training['max_seq_length']} tokens, fp32:", "",
                  "| variant | median step | tokens/s | useful GFLOP/s | share of peak | padding | forward / backward / optimizer |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for name, v in training["variants"].items():
            split = " / ".join(f"{v['split_s'][p]:.2f}" for p in ("forward", "backward", "optimizer"))
            lines.append(f"| {name} | {v['median_step_s']:.2f} s | {v['tokens_per_s']:.0f} | {v['useful_gflops']:.1f} | "
                         f"{v['share_of_fp32_peak']:.3f} | {100 * v['padding_share']:.0f}% | {split} s |")
        for key, what in (("mote_profile", "MoTE step profile"), ("mote_fast_dropout_profile", "MoTE step profile with fast dropout"),
                          ("mote_cpu_training_profile", "MoTE step profile with the cpu profile's setting")):
            prof = training.get(key)
            if prof:
                ops = ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in prof["top_ops"][:6])
                lines += ["", f"{what}: matrix products {100 * prof['matmul_share']:.0f}% of self time; top ops: {ops}."]
    evaluation = result.get("evaluation")
    if evaluation:
        lines += ["", f"Evaluation ({evaluation['variant']}, {', '.join(evaluation['tasks'])}): {evaluation['evaluation_s']:.1f} s; "
                  f"floor {evaluation['floor_s']:.1f} s ({evaluation['floor_texts']} unique routed texts); inside encode "
                  f"{evaluation['seconds_inside_encode']:.1f} s over {evaluation['encode_calls']} calls"
                  + (f"; floors in turn with the evaluations: {', '.join(f'{f:.1f}' for f in evaluation['floors_s'])} s"
                     if evaluation.get("floors_s") else "")
                  + (f"; the evaluation's calls replayed outside mteb: {evaluation['replay_of_evaluation_calls_s']:.1f} s"
                     if evaluation.get("replay_of_evaluation_calls_s") is not None else "") + "."]
    encode = result.get("encode")
    if encode:
        rates = ", ".join(f"{k} {v:.1f}" for k, v in encode["texts_per_s"].items())
        ratios = ", ".join(f"{k} {v:.3f}" for k, v in encode["ratios"].items())
        padding = ", ".join(f"{k} {v:.0%}" for k, v in encode.get("padding_share", {}).items())
        lines += ["", f"Encode ({encode['texts']} texts, batch {encode['batch_size']}), texts/s: {rates}. Ratios: {ratios}."
                  + (f" Padding (share of computed tokens) by the order batches are cut in: {padding}." if padding else "")]
    return "\n".join(lines) + "\n"


def write_results(path: Path, result: dict) -> None:
    """The run's whole result, plus ``by_machine_kind``: the latest targets of every machine kind measured so far.

    Both machine kinds (AVX2, AVX-512) run stretches of the work, so a run on one kind keeps the
    other kind's latest verdicts (read back from the file it replaces).
    """
    kinds = {}
    if path.is_file():
        try:
            kinds = json.loads(path.read_text()).get("by_machine_kind", {})
        except (json.JSONDecodeError, AttributeError):
            kinds = {}
    kind = f"{kind_and_cores(result['machine'])}, {result['machine']['threads']} threads"
    # A run of some parts (--only) keeps the kind's latest verdicts of the others (each names its own command and commit).
    targets = dict(result["targets"])
    for key, earlier in kinds.get(kind, {}).get("targets", {}).items():
        if targets.get(key, {}).get("status") == "not measured" and earlier.get("status") != "not measured":
            targets[key] = earlier
    kinds[kind] = {**{key: result[key] for key in ("date", "commit", "command")}, "targets": targets}
    write_text_atomic(path, json.dumps({**result, "by_machine_kind": kinds}, indent=1, default=str) + "\n")


def append_history(path: Path, section: str) -> None:
    text = path.read_text() if path.is_file() else "# Benchmark results\n"
    marker = "\n## GPU\n"  # the GPU section stays last
    if marker in text:
        head, tail = text.split(marker, 1)
        text = head.rstrip("\n") + "\n\n" + section + marker + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
