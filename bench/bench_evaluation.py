"""Evaluation speed: one model through ``mote_lib.evaluate.evaluate_models`` against its floor.

The floor is the same model embedding the tasks' unique texts once per routing (one ``encode`` call per
routed task; for EM, whose embeddings ignore the task, each unique text once). The evaluation's own
``model.encode`` calls are recorded (``RecordingEncode``), so the gap splits into embedding beyond the
floor and work outside embedding (mteb's data loading and scoring).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from mote_lib.base_models import TINY_RANDOM_BERT
from mote_lib.data import eval_texts, load_eval_task, write_eval_sample
from mote_lib.model import MoTEConfig, MoTEModel

# The default evaluation subset: one task of each routing (STS and pair classification go to
# ``other_task``, as classification does; retrieval to search_query and search_document), about a
# sixth of the suite's embedding work (data/eval_cost.json).
SUBSET = ("LeeDocumentSTS", "WordSenseDefinitionPairs", "DebtagsUseClassification", "FaqRetrieval")
RETRIEVAL_ROLES = {"query": "query", "document": "document"}
ANY_TASK = "any task"  # EM's one route: its embeddings ignore the task


def unique_routed_texts(model: MoTEModel, tasks: list, other_task: str) -> dict[str, list[str]]:
    """The tasks' unique texts by the model task that embeds them (one key, ``ANY_TASK``, for EM)."""
    from mote_lib.evaluate import route_task

    routed: dict[str, dict[str, None]] = {}
    for task in tasks:
        kind = task.metadata.type
        data = load_eval_task(task.metadata.name, task_root(task))
        for role, texts in eval_texts(data).items():
            route = route_task(kind, RETRIEVAL_ROLES.get(role), other_task)
            key = route if model.config.uses_instructions or model.config.routing != "none" else ANY_TASK
            routed.setdefault(key, {}).update(dict.fromkeys(texts))
    return {key: list(texts) for key, texts in routed.items()}


def _task(route: str) -> str | None:
    return None if route == ANY_TASK else route


def task_root(task) -> Path:
    """The data root of a shipped mteb task (``<root>/eval/<name>``)."""
    return Path(task.metadata.dataset["path"]).parent.parent


class RecordingEncode:
    """Stands in for ``model.encode`` during the evaluation: records each call's task, texts and time."""

    def __init__(self, encode) -> None:
        self.encode, self.calls = encode, []

    def __call__(self, texts, task=None, **kwargs):
        start = time.perf_counter()
        out = self.encode(texts, task=task, **kwargs)
        self.calls.append({"task": task, "texts": list(texts), "seconds": time.perf_counter() - start})
        return out


def bench_evaluation(args, device: torch.device) -> dict:
    from mote_lib.evaluate import evaluate_models
    from mote_lib.mteb_tasks import offline_tasks

    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        root = write_eval_sample(Path(tmp) / "sample", records=6) if args.quick else None
        names = args.eval_tasks.split(",") if args.eval_tasks else (None if args.suite == "full" else list(SUBSET))
        tasks = offline_tasks(names, root=root)
        names = [t.metadata.name for t in tasks]
        base = TINY_RANDOM_BERT if args.quick else args.base_model
        model = MoTEModel.from_base(MoTEConfig(variant=args.eval_variant, base_model=base)).to(device).eval()
        routed = unique_routed_texts(model, tasks, args.other_task)
        encode_kwargs = dict(batch_size=args.eval_batch_size, allow_empty=True, on_truncation="ignore")

        def floor() -> float:
            start = time.perf_counter()
            for route, texts in routed.items():
                model.encode(texts, task=_task(route), **encode_kwargs)
            return time.perf_counter() - start

        def evaluate(data_root, store: Path):
            return evaluate_models({f"bench-{args.eval_variant}": model}, "offline", tasks=names, data_root=data_root,
                                   other_task=args.other_task, batch_size=args.eval_batch_size, device=str(device),
                                   store=store, show_progress=False)

        # Warm-up: the model, and the first-use imports of mteb's evaluators (scikit-learn, ...), which a
        # process evaluating several models pays once, on a 4-record sample of the same tasks.
        model.encode(next(iter(routed.values()))[:args.eval_batch_size], task=_task(next(iter(routed))), **encode_kwargs)
        evaluate(write_eval_sample(Path(tmp) / "warm-up", records=4, source_root=root), Path(tmp) / "store-warm-up")
        # Each evaluation is bracketed by floors (floor, evaluation, floor, evaluation, ..., floor) and compared
        # with the mean of the two around it: a machine whose speed drifts during the run (a shared host can
        # lose a fifth of its peak in ten minutes) then slows both sides of the ratio alike.
        floors, evaluations, recorded, replay_s = [floor()], [], None, None
        for round_ in range(args.eval_rounds):
            recorder = RecordingEncode(model.encode)
            model.encode = recorder  # an instance attribute: MTEBEncoder calls it in the model's place
            try:
                start = time.perf_counter()
                table = evaluate(root, Path(tmp) / f"store-{round_}")
                evaluations.append(time.perf_counter() - start)
            finally:
                del model.encode
            recorded = recorder.calls
            failed = table[table["error"].notna()]
            if len(failed):
                raise RuntimeError(f"the evaluation failed on {failed['task'].tolist()}: {failed['error'].tolist()}")
            if args.replay and round_ == args.eval_rounds - 1:
                # the evaluation's own encode calls again, outside mteb: the cost of its split into calls
                start = time.perf_counter()
                for call in recorded:
                    model.encode(call["texts"], task=call["task"], **encode_kwargs)
                replay_s = time.perf_counter() - start
            floors.append(floor())

    brackets = [(before + after) / 2 for before, after in zip(floors, floors[1:])]
    ratios = [evaluation / bracket for evaluation, bracket in zip(evaluations, brackets)]
    floor_s, evaluation_s = statistics.median(brackets), statistics.median(evaluations)
    embedded = sum(len(c["texts"]) for c in recorded)
    inside_encode = sum(c["seconds"] for c in recorded)
    evaluated_unique: dict[str, set] = {}
    for c in recorded:
        key = c["task"] if ANY_TASK not in routed else ANY_TASK
        evaluated_unique.setdefault(key, set()).update(c["texts"])
    floor_texts = sum(len(texts) for texts in routed.values())
    return {
        "tasks": names, "suite": "full" if args.suite == "full" and not args.eval_tasks else "subset", "variant": args.eval_variant,
        "base_model": base, "batch_size": args.eval_batch_size, "other_task": args.other_task, "rounds": args.eval_rounds,
        "evaluation_s": evaluation_s, "floor_s": floor_s, "evaluation_over_floor": statistics.median(ratios),
        "evaluation_over_floor_by_round": [round(r, 4) for r in ratios],
        "replay_of_evaluation_calls_s": replay_s,
        "evaluations_s": [round(s, 2) for s in evaluations], "floors_s": [round(s, 2) for s in floors],
        "floor_texts": floor_texts, "floor_texts_by_route": {k: len(v) for k, v in routed.items()},
        "encode_calls": len(recorded), "texts_embedded_by_evaluation": embedded,
        "unique_texts_embedded_by_evaluation": sum(len(v) for v in evaluated_unique.values()),
        # the last round's evaluation, split into its time inside model.encode and the rest
        "seconds_inside_encode": inside_encode, "seconds_outside_encode": evaluations[-1] - inside_encode if recorded else None,
    }


def print_evaluation(e: dict) -> None:
    print(f"evaluation of {e['variant']} ({e['suite']}: {', '.join(e['tasks'])}): {e['evaluation_s']:.1f} s; floor "
          f"{e['floor_s']:.1f} s ({e['floor_texts']} unique routed texts: {e['floor_texts_by_route']}); ratio "
          f"{e['evaluation_over_floor']:.3f}")
    print(f"  inside model.encode {e['seconds_inside_encode']:.1f} s in {e['encode_calls']} calls, "
          f"{e['texts_embedded_by_evaluation']} texts ({e['unique_texts_embedded_by_evaluation']} unique per route); "
          f"outside {e['seconds_outside_encode'] or 0:.1f} s")
