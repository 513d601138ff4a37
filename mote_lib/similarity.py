"""Inter-task similarity: how differently a model embeds the same text under different tasks.

The paper's analysis: embed a fixed sample of texts under every task and compare each text's task
embeddings by cosine. EM ignores the task (every cosine is 1); IC changes only the instruction;
MoTE changes the instruction and the expert, and specialises more (lower similarity). A high
similarity in a trained MoTE model points to broken routing or initialisation.

Here:

* ``task_embeddings``, ``inter_task_similarity`` (task x task mean cosine), ``paired_cosines`` and
  ``inter_task_cosines`` (per-text cosines, for histograms);
* ``layerwise_divergence``: where in depth the two tasks' representations of a text part;
* ``expert_weight_similarity`` and ``merge_experts``: the expert-consolidation analysis (which
  experts are alike, and a model whose experts are averaged; averaging all of them is WAVE).

ours: hidden states are compared after mean-pooling over the **text's own tokens**: the
instruction tokens and the special tokens ([CLS], [SEP]) are left out, so both tasks pool the same
tokens and a difference is what the task did to the text, not the instruction tokens' own states.
Output embeddings are compared as ``encode`` returns them (mean over all real tokens, normalised
if the config says so). ``mote_lib.sensitivity`` uses the same pooling.

The functions' examples use the ``model`` built in the example below.

Example:
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> from mote_lib.similarity import task_embeddings, inter_task_similarity
    >>> model = MoTEModel.from_base(MoTEConfig(variant="ic"))
    >>> sim = inter_task_similarity(task_embeddings(model, ["how do I list files", "stocks fell"]))
    >>> sim.shape
    (4, 4)
"""

from __future__ import annotations

from dataclasses import asdict
from itertools import combinations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from mote_lib.model import MoTEConfig, MoTEModel, batches, check_tasks, mean_pool

# ----------------------------------------------------------------------------- output embeddings


def task_embeddings(model: MoTEModel, texts: list[str], tasks: list[str] | None = None,
                    batch_size: int = 32) -> dict[str, np.ndarray]:
    """Embed every text under every task.

    Args:
        model: any variant (EM gives the same embedding for every task).
        texts: the fixed sample of texts.
        tasks: the tasks to embed under (default: all of the model's tasks).
        batch_size: texts per forward pass.

    Returns:
        task -> (len(texts), hidden) float32 array, rows in the order of ``texts``.

    Example:
        >>> embeddings = task_embeddings(model, ["a cat sat"], tasks=["search_query", "clustering"])
        >>> sorted(embeddings), embeddings["clustering"].shape
        (['clustering', 'search_query'], (1, 384))
    """
    tasks = list(tasks) if tasks is not None else model.config.tasks
    check_tasks(tasks, model.config)
    if not texts:
        raise ValueError("texts is empty: give the sample of texts to embed")
    return {task: model.encode(list(texts), task=task, batch_size=batch_size) for task in tasks}


def paired_cosines(embeddings: dict[str, np.ndarray], task_a: str, task_b: str) -> np.ndarray:
    """Per text, the cosine between its embeddings under two tasks: (n_texts,), for a histogram."""
    for task in (task_a, task_b):
        if task not in embeddings:
            raise ValueError(f"no embeddings for task {task!r}; embedded tasks: {list(embeddings)}")
    a, b = torch.from_numpy(embeddings[task_a]), torch.from_numpy(embeddings[task_b])
    if a.shape != b.shape:
        raise ValueError(f"task embeddings differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    return F.cosine_similarity(a, b, dim=-1).numpy()


def inter_task_similarity(embeddings: dict[str, np.ndarray]) -> pd.DataFrame:
    """Task x task matrix of the mean cosine between the same text's task embeddings.

    Returns:
        a symmetric DataFrame indexed and columned by task, 1 on the diagonal.

    Example:
        >>> sim = inter_task_similarity({"a": np.eye(2, dtype="f4"), "b": np.eye(2, dtype="f4")[::-1].copy()})
        >>> float(sim.loc["a", "b"])
        0.0
    """
    tasks = list(embeddings)
    matrix = pd.DataFrame(np.eye(len(tasks)), index=tasks, columns=tasks)
    for a, b in combinations(tasks, 2):
        matrix.loc[a, b] = matrix.loc[b, a] = float(paired_cosines(embeddings, a, b).mean())
    return matrix


def inter_task_cosines(embeddings: dict[str, np.ndarray]) -> pd.DataFrame:
    """Every text's cosine for every task pair, tidy: ``text, task_a, task_b, pair, cosine``."""
    frames = [pd.DataFrame({"text": np.arange(len(embeddings[a])), "task_a": a, "task_b": b, "pair": f"{a} / {b}",
                            "cosine": paired_cosines(embeddings, a, b)})
              for a, b in combinations(embeddings, 2)]
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- hidden states, layer by layer


def instruction_length(model: MoTEModel, task: str) -> int:
    """Tokens of the task's instruction (0 for EM, which prepends none)."""
    check_tasks([task], model.config)
    if not model.config.uses_instructions:
        return 0
    return len(model.tokenizer(model.config.instructions[task], add_special_tokens=False)["input_ids"])


def text_token_mask(model: MoTEModel, batch: dict[str, torch.Tensor], task: str) -> torch.Tensor:
    """(batch, seq) mask of the text's own tokens: not the leading special token, the instruction or the last one.

    Assumes right padding and one special token at each end ([CLS] ... [SEP], <s> ... </s>), and
    checks that the instruction tokenises to the same ids inside the input as alone.
    """
    if model.tokenizer.padding_side != "right":
        raise ValueError(f"text_token_mask needs a right-padding tokenizer; got padding_side={model.tokenizer.padding_side!r}")
    n = instruction_length(model, task)
    ids, attention = batch["input_ids"], batch["attention_mask"]
    if n:
        expected = model.tokenizer(model.config.instructions[task], add_special_tokens=False)["input_ids"]
        if not bool((ids[:, 1 : 1 + n] == torch.tensor(expected)).all()):
            raise ValueError(f"the {task!r} instruction does not tokenise to the same tokens inside the input")
    positions = torch.arange(ids.shape[1])
    lengths = attention.sum(1, keepdim=True)
    return (positions >= 1 + n) & (positions < lengths - 1)


def _aligned_text_masks(model, batch_a, batch_b, task_a, task_b) -> tuple[torch.Tensor, torch.Tensor]:
    """Text-token masks of both inputs, cut to the text tokens both kept (truncation may cut one more)."""
    masks = [text_token_mask(model, batch_a, task_a), text_token_mask(model, batch_b, task_b)]
    keep = torch.minimum(masks[0].sum(1), masks[1].sum(1))
    for i, mask in enumerate(masks):
        masks[i] = mask & (mask.cumsum(1) <= keep[:, None])
    empty = (keep == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"text(s) at batch row(s) {empty} have no tokens of their own to pool")
    tokens_a, tokens_b = batch_a["input_ids"][masks[0]], batch_b["input_ids"][masks[1]]
    if not torch.equal(tokens_a, tokens_b):
        raise ValueError("the text tokenises differently after the two instructions; text tokens cannot be paired")
    return masks[0], masks[1]


def _hidden_states(model: MoTEModel, batch: dict[str, torch.Tensor], task: str) -> list[torch.Tensor]:
    tasks = [task] * batch["input_ids"].shape[0]
    expert_ids = model.expert_ids(tasks) if model.config.routing == "sequence" else None
    device = next(model.parameters()).device
    out = model(batch["input_ids"].to(device), batch["attention_mask"].to(device),
                expert_ids.to(device) if expert_ids is not None else None, output_hidden_states=True)
    return [h.float().cpu() for h in out["hidden_states"]]


def layerwise_divergence(model: MoTEModel, texts: list[str], task_a: str, task_b: str,
                         batch_size: int = 32) -> pd.DataFrame:
    """Per layer, how far apart one text's hidden states are under two tasks.

    Each layer's hidden states are mean-pooled over the text's own tokens (see the module
    docstring) and compared per text by cosine and by relative L2 distance
    ||a - b|| / ((||a|| + ||b||) / 2); the table holds their mean and standard deviation over texts.
    Layer 0 is the embedding layer's output, layer i the output of transformer layer i.

    Returns:
        DataFrame with ``layer, cosine, cosine_std, relative_l2, relative_l2_std``.

    Example:
        >>> table = layerwise_divergence(model, ["how do I list files"], "search_query", "search_document")
        >>> len(table) == len(model.blocks) + 1
        True
    """
    check_tasks([task_a, task_b], model.config)
    if not texts:
        raise ValueError("texts is empty: give the sample of texts to compare")
    cosines, distances = [], []
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for chunk in batches(list(texts), batch_size):
            batch_a, batch_b = model.tokenize(chunk, [task_a] * len(chunk)), model.tokenize(chunk, [task_b] * len(chunk))
            mask_a, mask_b = _aligned_text_masks(model, batch_a, batch_b, task_a, task_b)
            states_a, states_b = _hidden_states(model, batch_a, task_a), _hidden_states(model, batch_b, task_b)
            pooled_a = torch.stack([mean_pool(h, mask_a, normalize=False) for h in states_a])  # (layers, texts, hidden)
            pooled_b = torch.stack([mean_pool(h, mask_b, normalize=False) for h in states_b])
            cosines.append(F.cosine_similarity(pooled_a, pooled_b, dim=-1))
            scale = (pooled_a.norm(dim=-1) + pooled_b.norm(dim=-1)) / 2
            distances.append((pooled_a - pooled_b).norm(dim=-1) / scale)
    model.train(was_training)
    cosine, distance = torch.cat(cosines, 1).double(), torch.cat(distances, 1).double()
    return pd.DataFrame({"layer": np.arange(cosine.shape[0]), "cosine": cosine.mean(1).numpy(),
                         "cosine_std": cosine.std(1, unbiased=False).numpy(), "relative_l2": distance.mean(1).numpy(),
                         "relative_l2_std": distance.std(1, unbiased=False).numpy()})


# ----------------------------------------------------------------------------- expert weights


def expert_weight_similarity(model: MoTEModel, relative_to: str = "mean", initial: MoTEModel | None = None) -> pd.DataFrame:
    """Cosine between the flattened weights of every pair of experts, in every MoTE layer.

    An expert's vector is all its parameters (both LayerNorms, the up and down projections)
    flattened and concatenated. Raw weights of fine-tuned copies of one initialisation are all
    nearly parallel, so the comparison is usually of what each expert *changed*:

    * ``"raw"``: the weights themselves;
    * ``"mean"``: each expert minus the layer's mean expert. Needs no other model, but centring
      biases the cosines negative (k experts of independent changes average -1/(k - 1); with two
      experts it is always -1);
    * ``"initial"``: each expert minus its weights in ``initial`` (the model training started
      from; a dense model's single block serves every expert), i.e. the fine-tuning update.

    A zero vector (e.g. ``"mean"`` or ``"initial"`` before training) has no direction: its cosine is NaN.

    Returns:
        tidy DataFrame ``layer, expert_a, expert_b, cosine``, one row per layer and unordered pair;
        ``expert_similarity_matrix`` averages it over layers into an expert x expert matrix.

    Example:
        >>> model = MoTEModel.from_base(MoTEConfig(variant="mote"))
        >>> expert_weight_similarity(model, "raw")["cosine"].round(6).unique().tolist()   # copies at step 0
        [1.0]
    """
    if relative_to not in ("raw", "mean", "initial"):
        raise ValueError(f"unknown relative_to={relative_to!r}; valid: ['raw', 'mean', 'initial']")
    if (relative_to == "initial") != (initial is not None):
        raise ValueError("relative_to='initial' needs the initial model (initial=...), and only it uses one")
    layers = _expert_layers(model)
    names = model.config.experts
    rows = []
    for layer in layers:
        vectors = torch.stack([_flat(model.blocks[layer].experts[model.expert_index[name]]) for name in names])
        if relative_to == "mean":
            vectors = vectors - vectors.mean(0, keepdim=True)
        elif relative_to == "initial":
            vectors = vectors - torch.stack([_flat(_initial_expert(initial, layer, name)) for name in names])
        norms = vectors.norm(dim=1)
        for i, j in combinations(range(len(names)), 2):
            denominator = norms[i] * norms[j]
            cosine = float(vectors[i] @ vectors[j] / denominator) if denominator > 0 else float("nan")
            rows.append({"layer": layer, "expert_a": names[i], "expert_b": names[j], "cosine": cosine})
    return pd.DataFrame(rows, columns=["layer", "expert_a", "expert_b", "cosine"])


def expert_similarity_matrix(similarity: pd.DataFrame) -> pd.DataFrame:
    """Expert x expert matrix of ``expert_weight_similarity``'s cosines averaged over layers (diagonal 1)."""
    mean = similarity.groupby(["expert_a", "expert_b"], sort=False)["cosine"].mean()
    names = list(dict.fromkeys([*similarity["expert_a"], *similarity["expert_b"]]))
    matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for (a, b), value in mean.items():
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


def _expert_layers(model: MoTEModel) -> list[int]:
    layers = [i for i, bank in enumerate(model.blocks) if len(bank.experts) > 1]
    if not layers:
        raise ValueError(f"the {model.config.variant!r} model has no layer with several experts")
    return layers


def _flat(expert: torch.nn.Module) -> torch.Tensor:
    # float64: a float32 dot product over ~10^6 weights drifts past 1 for identical experts.
    return torch.cat([p.detach().double().reshape(-1).cpu() for p in expert.parameters()])


def _initial_expert(initial: MoTEModel, layer: int, name: str) -> torch.nn.Module:
    bank = initial.blocks[layer]
    if len(bank.experts) == 1:
        return bank.experts[0]
    if name not in initial.expert_index:
        raise ValueError(f"the initial model has no expert {name!r}; it has {initial.config.experts}")
    return bank.experts[initial.expert_index[name]]


def merge_experts(model: MoTEModel, experts: list[str], into: str | None = None) -> MoTEModel:
    """A copy of a MoTE model whose given experts are replaced, in every MoTE layer, by their average.

    Every task routed to one of ``experts`` is routed to the merged expert; the other experts and
    all shared weights are kept. Averaging all experts gives WAVE (one expert per layer: the
    model becomes dense). The copy has fewer experts, saves and loads like any model, and leaves
    ``model`` untouched.

    Args:
        model: a sequence-routed (``mote``) model.
        experts: two or more of ``model.config.experts``.
        into: the merged expert's name (default: the names joined by ``+``).

    Returns:
        the merged model, in the mode (train/eval) and on the device and dtype of ``model``.

    Example:
        >>> merged = merge_experts(model, ["search_document", "clustering"])
        >>> merged.config.experts
        ['classification', 'search_document+clustering', 'search_query']
    """
    if model.config.routing != "sequence":
        raise ValueError(f"merge_experts needs a sequence-routed 'mote' model; got variant {model.config.variant!r}"
                         " (dense variants have no experts; a token router would need its rows merged too)")
    unknown = sorted(set(experts) - set(model.config.experts))
    if unknown:
        raise ValueError(f"unknown expert(s) {unknown}; valid experts: {model.config.experts}")
    if len(set(experts)) < 2:
        raise ValueError(f"merge at least two different experts; got {list(experts)}")
    name = into or "+".join(experts)
    if name in set(model.config.experts) - set(experts):
        raise ValueError(f"into={name!r} is the name of an expert that is not merged")
    mapping = {task: name if expert in experts else expert for task, expert in model.config.task_to_expert.items()}
    config = MoTEConfig(**{**asdict(model.config), "task_to_expert": mapping})
    reference = next(model.parameters())
    merged = MoTEModel.from_backbone_config(config, model.backbone_config, model.tokenizer).to(reference.device, reference.dtype)
    merged.load_state_dict(_merged_state(model, merged, set(experts), name))
    return merged.train(model.training)


def _merged_state(model: MoTEModel, merged: MoTEModel, experts: set[str], name: str) -> dict[str, torch.Tensor]:
    """The merged model's state dict, filled from the original's (averaging the merged experts)."""
    old = model.state_dict()
    state = {}
    for key in merged.state_dict():
        parts = key.split(".")  # blocks.<layer>.experts.<index>.<parameter path>
        if parts[0] != "blocks" or parts[2] != "experts" or len(model.blocks[int(parts[1])].experts) == 1:
            state[key] = old[key]
            continue
        expert = merged.config.experts[int(parts[3])]
        sources = [e for e in model.config.experts if e in experts] if expert == name else [expert]
        tensors = [old[".".join([*parts[:3], str(model.expert_index[e]), *parts[4:]])] for e in sources]
        state[key] = torch.stack(tensors).mean(0)
    return state
