"""The training data as one run reads it: rows by (task, dataset, index), batches with roles and temperatures.

``TrainingData.batch`` turns the sampler's examples (``mote_lib.sampler``) into the texts, model
tasks (``TASK_ROLES``: retrieval anchors are ``search_query``, their documents ``search_document``),
hard negatives with their owners, label ids and temperatures the step (``mote_lib.train.step``) embeds.

Example:
    >>> from mote_lib.train import TrainConfig, TrainingData
    >>> data = TrainingData(TrainConfig.from_profile("smoke"))   # doctest: +SKIP
    >>> sorted(data.sizes)   # doctest: +SKIP
    ['classification', 'clustering', 'retrieval']
"""

from __future__ import annotations

from mote_lib.data import load_training_data
from mote_lib.train.config import TASK_ROLES, TRAINING_DATA, TrainConfig


class TrainingData:
    """The training hierarchy as plain lists (fast row access), with label ids per dataset."""

    def __init__(self, config: TrainConfig) -> None:
        root = resolve_data_root(config)
        # What the run trained on, for its summary and model card: "auto" becomes "hub" or "shipped".
        self.source = "hub" if config.training_data != "shipped" and root != config.data_root else "shipped"
        loaded = load_training_data(root)
        cap = config.max_examples_per_dataset
        self.columns: dict[tuple[str, str], dict[str, list]] = {}
        for task, datasets in loaded.items():
            for name, ds in datasets.items():
                ds = ds.select(range(min(cap, len(ds)))) if cap else ds
                self.columns[(task, name)] = {c: ds[c] for c in ("anchor", "positive", "negative", "label")}
        self.sizes: dict[str, dict[str, int]] = {}
        for (task, name), cols in self.columns.items():
            self.sizes.setdefault(task, {})[name] = len(cols["anchor"])
        # Labels compare within a dataset only: "noun.animal" of one dataset is not another's.
        self.label_ids: dict[tuple[str, str, str], int] = {}
        for (task, name), cols in sorted(self.columns.items()):
            for label in sorted({lab for lab in cols["label"] if lab is not None}):
                self.label_ids[(task, name, label)] = len(self.label_ids)

    def batch(self, examples: list[tuple[str, str, int]], config: TrainConfig) -> dict:
        """Texts, tasks, hard negatives (with owners), label ids and temperatures of one batch."""
        out = {key: [] for key in ("anchors", "anchor_tasks", "positives", "doc_tasks", "negatives",
                                   "negative_owner", "negative_tasks", "labels", "temperatures", "row_tasks")}
        for row, (task, name, index) in enumerate(examples):
            cols = self.columns[(task, name)]
            anchor_task, doc_task = TASK_ROLES[task]
            out["anchors"].append(cols["anchor"][index])
            out["anchor_tasks"].append(anchor_task)
            out["positives"].append(cols["positive"][index])
            out["doc_tasks"].append(doc_task)
            if cols["negative"][index] is not None:
                out["negatives"].append(cols["negative"][index])
                out["negative_owner"].append(row)
                out["negative_tasks"].append(doc_task)
            label = cols["label"][index]
            out["labels"].append(self.label_ids[(task, name, label)] if label is not None else -1)
            out["temperatures"].append(config.temperatures[task] if config.ta_cl else config.no_ta_cl_temperature)
            out["row_tasks"].append(task)
        return out


def resolve_data_root(config: TrainConfig) -> str | None:
    """The folder to train from, following ``config.training_data``."""
    from mote_lib.data import HUB_TRAINING_DATA, download_hub_training_data
    from mote_lib.paths import cache_dir

    if config.training_data not in TRAINING_DATA:
        raise ValueError(f"unknown training_data {config.training_data!r}; valid: {list(TRAINING_DATA)}")
    if config.training_data == "shipped":
        return config.data_root
    try:
        return str(download_hub_training_data(cache_dir() / "embedding-training-data"))
    except Exception as err:  # offline, unreachable, or a failed download: say so, never silently
        if config.training_data == "hub":
            raise
        print(f"[train] {HUB_TRAINING_DATA} is not available ({type(err).__name__}: {err}); training on the shipped data instead")
        return config.data_root
