"""The datasheet's numbers, computed from the built files (never typed in).

``render_datasheet(data_dir)`` rewrites the part of data/README.md between the GENERATED markers;
tests/data_build/test_shipped_data.py re-renders it from the committed files and compares, so the
datasheet cannot drift from the data.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from itertools import chain
from pathlib import Path

from mote_lib.data import eval_texts, load_eval_task, load_training_data, training_table

BEGIN = "<!-- BEGIN GENERATED (data/build/datasheet.py): do not edit by hand -->"
END = "<!-- END GENERATED -->"


def _kb(paths: list[Path]) -> int:
    return round(sum(p.stat().st_size for p in paths) / 1024)


def training_stats(data_dir: Path) -> list[dict]:
    """One row per training dataset: counts of examples, hard negatives and labels, size on disk."""
    info = json.loads((data_dir / "sources.json").read_text())["train"]
    rows = training_table(load_training_data(data_dir)).to_dict("records")
    for row in rows:
        files = sorted((data_dir / "train" / row["task"]).glob(f"{row['dataset']}.*jsonl.gz"))
        row.update(kb=_kb(files), **info[f"{row['task']}/{row['dataset']}"])
    return rows


def eval_stats(data_dir: Path) -> list[dict]:
    """One row per evaluation task: its type, what it holds, unique texts to embed, size on disk."""
    rows = []
    for task_json in sorted((data_dir / "eval").glob("*/task.json")):
        task = load_eval_task(task_json.parent.name, data_dir)
        files = {p.name.removesuffix(".jsonl.gz"): [json.loads(line) for line in gzip.open(p, "rt", encoding="utf-8")]
                 for p in sorted(task_json.parent.glob("*.jsonl.gz"))}
        rows.append({
            "name": task.name, "type": task.type, "contents": _describe(task.type, files),
            "unique_texts": len(set(chain.from_iterable(eval_texts(task).values()))),
            "labels": task.metadata["labels"], "source": task.metadata["source"],
            "kb": _kb(sorted(task_json.parent.glob("*.jsonl.gz"))),
        })
    return rows


def _describe(task_type: str, files: dict[str, list]) -> str:
    if task_type in ("Retrieval", "Reranking"):
        text = f"{len(files['test.queries'])} queries, {len(files['test.corpus'])} documents, {len(files['test.qrels'])} qrels"
        if task_type == "Reranking":
            sizes = Counter(len(r["corpus_ids"]) for r in files["test.top_ranked"])
            text += ", candidates per query: " + ", ".join(f"{k} ({v}x)" for k, v in sorted(sizes.items()))
        return text
    if task_type == "Classification":
        labels = {r["label"] for r in files["train"] + files["test"]}
        return f"train {len(files['train'])}, test {len(files['test'])} texts, {len(labels)} labels"
    if task_type == "Clustering":
        return f"{len(files['test'])} texts, {len({r['label'] for r in files['test']})} clusters"
    if task_type == "STS":
        scores = [r["score"] for r in files["test"]]
        return f"{len(scores)} pairs, scores {min(scores):g}-{max(scores):g}"
    positives = sum(r["label"] == 1 for r in files["test"])
    return f"{len(files['test'])} pairs ({positives} positive)"


def render_tables(data_dir: Path) -> str:
    """The generated part of the datasheet, as Markdown."""
    train, evals = training_stats(data_dir), eval_stats(data_dir)
    manifest = json.loads((data_dir / "sources.json").read_text())
    sources = manifest["sources"]
    fractions = ", ".join(f"{unit} {share:.0%}" for unit, share in manifest["held_out_fractions"].items())
    out = [f"Held out of training for evaluation (share of units): {fractions}.", "",
           "### Training data (task -> dataset)", "",
           "| task | dataset | examples | with hard negative | labels | size (KB) | labels are | source |",
           "|---|---|---:|---:|---:|---:|---|---|"]
    for r in train:
        out.append(f"| {r['task']} | `{r['dataset']}` | {r['examples']:,} | {r['with_hard_negative']:,} | "
                   f"{r['labels'] or '-'} | {r['kb']:,} | {r['kind']} | {r['source']} |")
    out += ["", "| task | datasets | examples |", "|---|---:|---:|"]
    for task in sorted({r["task"] for r in train}):
        mine = [r for r in train if r["task"] == task]
        out.append(f"| {task} | {len(mine)} | {sum(r['examples'] for r in mine):,} |")
    out.append(f"| **all** | {len(train)} | {sum(r['examples'] for r in train):,} |")
    out += ["", "### Evaluation suite", "",
            "| task | type | contents | unique texts | size (KB) | labels are | source |",
            "|---|---|---|---:|---:|---|---|"]
    for r in evals:
        out.append(f"| `{r['name']}` | {r['type']} | {r['contents']} | {r['unique_texts']:,} | {r['kb']:,} | {r['labels']} | {r['source']} |")
    out.append(f"| **all** | | | {sum(r['unique_texts'] for r in evals):,} | {sum(r['kb'] for r in evals):,} | | |")
    out += ["", "### Source packages", "", "| package | registry | version | license |", "|---|---|---|---|"]
    for name, s in sources.items():
        out.append(f"| {name} | {s['registry']} | {s['version']} | {s['license']} |")
    out += _cost_table(data_dir)
    # README.md itself is left out: its size depends on this very text.
    shipped = [p for p in data_dir.rglob("*") if p.is_file() and p.relative_to(data_dir).parts[0] not in ("build", "README.md")]
    total_kb = _kb(shipped)
    out += ["", f"Size on disk: training {sum(r['kb'] for r in train):,} KB, evaluation {sum(r['kb'] for r in evals):,} KB, "
            f"data/ without build/ {total_kb:,} KB (compressed JSON lines)."]
    return "\n".join(out)


def _cost_table(data_dir: Path) -> list[str]:
    path = data_dir / "eval_cost.json"
    if not path.exists():
        return ["", "### Evaluation cost", "", "Not measured yet: run `python data/build/measure_eval_cost.py`."]
    cost = json.loads(path.read_text())
    out = ["", "### Evaluation cost (measured)", "",
           f"{cost['what']}; {cost['machine']}; {cost['date']} (`data/build/measure_eval_cost.py`, `data/eval_cost.json`).", "",
           "| task | unique texts | tokens | seconds |", "|---|---:|---:|---:|"]
    for name, t in cost["tasks"].items():
        out.append(f"| `{name}` | {t['unique_texts']:,} | {t['tokens']:,} | {t['seconds']} |")
    out.append(f"| **all** | {sum(t['unique_texts'] for t in cost['tasks'].values()):,} | "
               f"{sum(t['tokens'] for t in cost['tasks'].values()):,} | {cost['total_seconds']} |")
    return out


def render_datasheet(data_dir: Path) -> None:
    """Replace the generated block of data/README.md with tables computed from the files."""
    readme = data_dir / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{readme} lacks the GENERATED markers:\n{BEGIN}\n{END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{render_tables(data_dir)}\n{END}{tail}")


def generated_block(data_dir: Path) -> str:
    """The block currently in data/README.md (for the consistency test)."""
    text = (data_dir / "README.md").read_text()
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")
