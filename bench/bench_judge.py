"""Issue 17's targets and the verdict on each: "met", or "not met: <the measured reason>", or "not measured".

``judge_targets(result)`` reads a run's figures (``bench/bench_suite.py``'s result) and gives, per
target, its figure, its verdict, the details behind it, and what it was measured with (command,
commit, CPU, threads, machine kind). The reasons are written only for a target missed.
"""

from __future__ import annotations

from bench_training import CPU_SETTING, VARIANTS

from mote_lib.model_card import VARIANT_NAMES
from mote_lib.profiles import CPU_TRAINING

TARGETS = {
    "training_share_of_fp32_peak": (">=", 0.55),
    "evaluation_over_floor": ("<=", 1.10),
    "mote_over_ic_step_time": ("<=", 1.05),
    "encode_over_sentence_transformers": (">=", 1.00),
}
# The targets each part of the run answers, in the order they are reported.
PART_TARGETS = {
    "training": ("training_share_of_fp32_peak", "mote_over_ic_step_time"),
    "evaluation": ("evaluation_over_floor",),
    "encode": ("encode_over_sentence_transformers",),
}


def judge_targets(result: dict) -> dict:
    """Each target: its figure and "met", or "not met: <the measured reason>" (or "not measured")."""
    judges = {"training": _training_verdicts, "evaluation": _evaluation_verdict, "encode": _encode_verdict}
    verdicts = {}
    for part, keys in PART_TARGETS.items():
        verdicts.update(judges[part](result) if result.get(part) else {key: verdict(key, None) for key in keys})
    common = _measured_with_what(result)
    return {key: {**v, **common} for key, v in verdicts.items()}


def verdict(key: str, figure, reason_if_missed=None, detail: dict | None = None) -> dict:
    """One target's verdict; ``reason_if_missed()`` is asked for only when the figure misses the target."""
    op, target = TARGETS[key]
    if figure is None:
        return {"target": f"{op} {target}", "figure": None, "status": "not measured"}
    met = figure >= target if op == ">=" else figure <= target
    return {"target": f"{op} {target}", "figure": round(figure, 4), "status": "met" if met else f"not met: {reason_if_missed()}",
            **(detail or {})}


def _measured_with_what(result: dict) -> dict:
    """What every verdict records about its run: the command, the commit, the date and the machine."""
    machine = result["machine"]
    common = {key: result[key] for key in ("command", "commit", "date")}
    common.update(cpu=machine["cpu"], flags=machine["flags"], threads=machine["threads"], machine_kind=machine["kind"],
                  idle_at_start=machine["idle_at_start"])
    return common


def _label(variant: str) -> str:
    """``mote_cpu_training`` -> "MoTE (cpu profile's setting)"; ``em`` -> "EM"."""
    name = variant.removesuffix(CPU_SETTING)
    name = VARIANT_NAMES.get(name, name)
    return name + (" (cpu profile's setting)" if variant.endswith(CPU_SETTING) else "")


def _ops(profile: dict) -> str:
    return ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in profile["top_ops"][:5])


# ----------------------------------------------------------------------------- training


def _training_verdicts(result: dict) -> dict:
    """The share of the fp32 peak (judged on the cpu profile's setting when it was timed) and MoTE / IC step time."""
    training = result["training"]
    variants = training["variants"]
    on_cpu_setting = all(variant + CPU_SETTING in variants for variant in VARIANTS)
    judged = [variant + CPU_SETTING for variant in VARIANTS] if on_cpu_setting else list(VARIANTS)
    worst = min(judged, key=lambda v: variants[v]["share_of_fp32_peak"])
    share = verdict("training_share_of_fp32_peak", variants[worst]["share_of_fp32_peak"],
                    lambda: _training_reason(result, worst, on_cpu_setting),
                    {"worst_variant": worst, "measured_with": _training_measured_with(variants, worst, on_cpu_setting),
                     "per_variant": {v: round(variants[v]["share_of_fp32_peak"], 4) for v in variants},
                     "fp32_peak_gflops": round(result["peak"]["fp32_gflops"], 1)})
    ratio = verdict("mote_over_ic_step_time", training["mote_over_ic_step_time"], lambda: _step_ratio_reason(training),
                    {"median_step_s": {v: round(variants[v]["median_step_s"], 4) for v in variants}})
    return {"training_share_of_fp32_peak": share, "mote_over_ic_step_time": ratio}


def _training_measured_with(variants: dict, worst: str, on_cpu_setting: bool) -> str:
    if not on_cpu_setting:
        return "EM, IC and MoTE with the default setting (the cpu profile's was not timed)"
    default_worst = min(VARIANTS, key=lambda v: variants[v]["share_of_fp32_peak"])
    setting = ", ".join(f"{key}={value}" for key, value in CPU_TRAINING.items())
    return (f"EM, IC and MoTE with the cpu profile's training setting ({setting}): the worst, "
            f"{_label(worst)}, reaches {variants[worst]['share_of_fp32_peak']:.2f} of peak; with the default "
            f"(the pre-registered reference runs' setting) the worst, {_label(default_worst)}, reaches "
            f"{variants[default_worst]['share_of_fp32_peak']:.2f}")


def _training_reason(result: dict, worst: str, on_cpu_setting: bool) -> str:
    """Where the worst variant's step time goes: padding, the matrix products' own speed, the step's split, top ops."""
    training, peak = result["training"], result["peak"]["fp32_gflops"]
    w = training["variants"][worst]
    prof = training.get("mote_cpu_training_profile") if on_cpu_setting else None
    prof = prof or training["mote_profile"]
    gemm = result["peak"]["model_shapes_gflops"]
    split = w["split_s"]
    return (f"{_label(worst)} reaches {w['share_of_fp32_peak']:.2f} of the {peak:.0f} GFLOP/s peak "
            f"({w['useful_gflops']:.1f} GFLOP/s on real tokens, {w['computed_gflops']:.1f} counting padding: "
            f"{100 * w['padding_share']:.0f}% of computed tokens are padding); matrix products at the model's shapes "
            f"run at {min(gemm.values()):.0f}-{max(gemm.values()):.0f} GFLOP/s "
            f"({min(gemm.values()) / peak:.2f}-{max(gemm.values()) / peak:.2f} of peak); median step "
            f"{w['median_step_s']:.2f} s = forward {split['forward']:.2f} + backward {split['backward']:.2f} + "
            f"clip and AdamW {split['optimizer']:.2f}; in a profiled {_label('mote' + CPU_SETTING if on_cpu_setting else 'mote')} "
            f"step matrix products take "
            f"{100 * prof['matmul_share']:.0f}% of self time; top ops: {_ops(prof)}" + _chunk_note(training))


def _chunk_note(training: dict) -> str:
    """The measured effect of less padding (other numerics: not the reference's setting)."""
    variants = training["variants"]
    chunks = sorted(name for name in variants if name.startswith("mote_chunk") and not name.endswith("_fast_dropout"))
    return "".join(f"; MoTE with {name.removeprefix('mote_chunk')} texts per forward pass (default "
                   f"{training['embed_chunk']}): {variants[name]['share_of_fp32_peak']:.2f} of peak, "
                   f"{100 * variants[name]['padding_share']:.0f}% padding, step "
                   f"{variants[name]['median_step_s'] / variants['mote']['median_step_s']:.2f}x" for name in chunks) + \
        _fast_dropout_note(training)


def _fast_dropout_note(training: dict) -> str:
    """The measured effect of cheaper dropout masks (other numerics: an option)."""
    variants = training["variants"]
    if "mote_fast_dropout" not in variants:
        return ""
    shares = "/".join(f"{variants[f'{v}_fast_dropout']['share_of_fp32_peak']:.2f}" for v in VARIANTS)
    ratios = "/".join(f"{variants[f'{v}_fast_dropout']['median_step_s'] / variants[v]['median_step_s']:.2f}" for v in VARIANTS)
    prof = training["mote_fast_dropout_profile"]
    both = "".join(f"; with fast dropout and {name.removeprefix('mote_chunk').removesuffix('_fast_dropout')} texts per "
                   f"forward pass MoTE reaches {variants[name]['share_of_fp32_peak']:.2f} of peak "
                   f"({100 * variants[name]['padding_share']:.0f}% padding)"
                   for name in sorted(variants) if name.startswith("mote_chunk") and name.endswith("_fast_dropout"))
    return (f"; with fast dropout (TrainConfig.fast_dropout, other masks: not the reference runs' setting) "
            f"EM/IC/MoTE reach {shares} of peak, step {ratios}x the default's; its MoTE step: matrix products "
            f"{100 * prof['matmul_share']:.0f}% of self time, top ops: {_ops(prof)}" + both)


def _step_ratio_reason(training: dict) -> str:
    m, i = training["variants"]["mote"], training["variants"]["ic"]
    return (f"MoTE's step takes {training['mote_over_ic_step_time']:.3f}x IC's (median over {training['timed_steps']} paired "
            f"batches): forward {m['split_s']['forward']:.2f} vs {i['split_s']['forward']:.2f} s, backward "
            f"{m['split_s']['backward']:.2f} vs {i['split_s']['backward']:.2f} s, clip and AdamW "
            f"{m['split_s']['optimizer']:.2f} vs {i['split_s']['optimizer']:.2f} s "
            f"({m['parameters']['total'] / 1e6:.1f} M vs {i['parameters']['total'] / 1e6:.1f} M parameters updated)")


# ----------------------------------------------------------------------------- evaluation and encode


def _evaluation_verdict(result: dict) -> dict:
    e = result["evaluation"]
    return {"evaluation_over_floor": verdict(
        "evaluation_over_floor", e["evaluation_over_floor"], lambda: _evaluation_reason(e),
        {"evaluation_s": round(e["evaluation_s"], 2), "floor_s": round(e["floor_s"], 2), "floors_s": e.get("floors_s"),
         "by_round": e.get("evaluation_over_floor_by_round"), "tasks": e["tasks"], "variant": e["variant"]})}


def _evaluation_reason(e: dict) -> str:
    """The gap to the floor, split into embedding beyond the floor's and work outside ``model.encode``."""
    inside, outside = e["seconds_inside_encode"], e["seconds_outside_encode"]
    if outside is None:
        return (f"evaluating {e['variant'].upper()} took {e['evaluation_s']:.1f} s against a floor of {e['floor_s']:.1f} s; "
                "it never called model.encode, so the gap cannot be split")
    return (f"evaluating {e['variant'].upper()} on {len(e['tasks'])} task(s) took {e['evaluation_s']:.1f} s against a "
            f"floor of {e['floor_s']:.1f} s ({e['floor_texts']} unique routed texts in {len(e['floor_texts_by_route'])} "
            f"encode call(s)); inside model.encode {inside:.1f} s ({e['encode_calls']} calls embedding "
            f"{e['texts_embedded_by_evaluation']} texts, {e['texts_embedded_by_evaluation'] / e['floor_texts']:.2f}x the "
            f"floor's), outside it (mteb's data loading and scoring) {outside:.1f} s"
            + (f"; the same encode calls replayed outside mteb {e['replay_of_evaluation_calls_s']:.1f} s"
               if e.get("replay_of_evaluation_calls_s") is not None else ""))


def _encode_verdict(result: dict) -> dict:
    encode = result["encode"]
    return {"encode_over_sentence_transformers": verdict(
        "encode_over_sentence_transformers", encode["ratios"]["mote_lib_em / sentence_transformers"],
        lambda: _encode_reason(encode), {"texts_per_s": {k: round(v, 2) for k, v in encode["texts_per_s"].items()}})}


def _encode_reason(encode: dict) -> str:
    rate = encode["texts_per_s"]
    padding = encode.get("padding_share", {})
    return (f"MoTEModel.encode (EM) embeds {rate['mote_lib_em']:.1f} texts/s against sentence-transformers' "
            f"{rate['sentence_transformers']:.1f} on the same {encode['texts']} texts (batch {encode['batch_size']}, "
            f"median of {encode['rounds']} rounds); padding "
            + ", ".join(f"{k} {v:.0%}" for k, v in padding.items())
            + f"; forward passes of the same batches {encode['ratios'].get('forward, same batches: mote_lib / transformers', float('nan')):.3f}x")
