"""Lipschitz probes: how far a change of the input moves a model's embedding.

The paper's argument for MoTE: an instruction is a short prefix, so swapping it changes the input
little, and a smooth (Lipschitz) network then changes the output little; experts give the task a
way to move the output further. The probes here measure that:

* ``instruction_swap_ratio``: per text, output distance over input distance when the task's
  instruction is swapped (IC: the instruction only; MoTE: instruction and expert);
* ``content_edit_ratio``: the same ratio for small seeded edits of the text under a fixed task,
  the scale to compare against;
* ``local_lipschitz``: the local Lipschitz constant of the map from the instruction's token
  embeddings to the output embedding (Jacobian-vector products, power iteration, and a
  finite-difference cross-check); ``layerwise_lipschitz`` does the same for every layer's states.

ours, the input space: the **word embeddings** (rows of ``model.embeddings.word_embeddings``, before
positions and the embedding LayerNorm are added), the space a prefix is written in. The distance
between two inputs is the L2 distance between the **means of their word-embedding vectors over all
real tokens** (special tokens included, padding not): defined for inputs of different lengths,
shrinking as the text around a fixed prefix grows (so it says how much of the input the prefix
is), and pooled as the output embedding is. Output distance: the L2 distance between the
embeddings ``encode`` returns (unit vectors for the shipped configs). A ratio is NaN where the
input distance is zero (an edit that left the tokens unchanged).

The Jacobian probes differentiate with respect to the instruction's word embeddings (the
instruction slice of ``forward(..., inputs_embeds=...)``), with the model in eval mode (no
dropout). Hidden states of a layer are mean-pooled over the text's own tokens, as in
``mote_lib.similarity``. For ``mote-tlr`` the Jacobian includes the router gate's surrogate
derivative (the gate scales the expert output by a factor 1 whose gradient is the gate's), which
the function itself does not have.

Example:
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> from mote_lib.sensitivity import instruction_swap_ratio
    >>> model = MoTEModel.from_base(MoTEConfig(variant="ic"))
    >>> table = instruction_swap_ratio(model, ["how do I list files"], "search_query", "clustering")
    >>> list(table.columns)
    ['text', 'input_distance', 'output_distance', 'ratio']

The functions' examples use the ``model`` built here.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch
from torch.func import jvp, vjp
from torch.nn.attention import SDPBackend, sdpa_kernel

from mote_lib.model import MoTEModel, batches, check_tasks, mean_pool
from mote_lib.similarity import instruction_length, text_token_mask

EDITS = ("drop_word", "swap_word")

# ----------------------------------------------------------------------------- distances and ratios


def mean_token_embedding(model: MoTEModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(batch, hidden): each input's mean word-embedding vector over its real tokens (the input point, ours)."""
    with torch.no_grad():
        words = model.embeddings.word_embeddings(batch["input_ids"].to(model.embeddings.word_embeddings.weight.device))
        return mean_pool(words.float(), batch["attention_mask"].to(words.device), normalize=False).cpu()


def _ratio_table(model, texts_a, tasks_a, texts_b, tasks_b, batch_size) -> pd.DataFrame:
    inputs, outputs = [], []
    for start in range(0, len(texts_a), batch_size):  # slices of two lists in step
        chunk = slice(start, start + batch_size)
        batch_a = model.tokenize(texts_a[chunk], tasks_a[chunk] if tasks_a else None)
        batch_b = model.tokenize(texts_b[chunk], tasks_b[chunk] if tasks_b else None)
        inputs.append((mean_token_embedding(model, batch_a) - mean_token_embedding(model, batch_b)).norm(dim=-1))
    for texts, tasks in ((texts_a, tasks_a), (texts_b, tasks_b)):
        outputs.append(torch.from_numpy(model.encode(texts, task=tasks, batch_size=batch_size)))
    input_distance = torch.cat(inputs).double().numpy()
    output_distance = (outputs[0] - outputs[1]).norm(dim=-1).double().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(input_distance > 0, output_distance / input_distance, np.nan)
    return pd.DataFrame({"text": np.arange(len(texts_a)), "input_distance": input_distance,
                         "output_distance": output_distance, "ratio": ratio})


def instruction_swap_ratio(model: MoTEModel, texts: list[str], task_a: str, task_b: str,
                           batch_size: int = 32) -> pd.DataFrame:
    """Per text, ||f(task_a) - f(task_b)|| over the input distance of the two instructed inputs.

    For MoTE the swap changes the expert as well as the instruction, which is the point of the
    comparison with IC. EM prepends no instruction and ignores the task: the swap changes neither
    input nor output (0 / 0), so asking for it is an error.

    Returns:
        DataFrame ``text, input_distance, output_distance, ratio``, one row per text (in order).

    Example:
        >>> bool(instruction_swap_ratio(model, ["a cat sat"], "search_query", "clustering")["ratio"].gt(0).all())
        True
    """
    check_tasks([task_a, task_b], model.config)
    if not model.config.uses_instructions:
        raise ValueError("the 'em' variant ignores the task: an instruction swap changes neither input nor output "
                         "(the ratio is 0 / 0); compare 'ic' or 'mote' models, or use content_edit_ratio")
    if task_a == task_b:
        raise ValueError(f"swap between two different tasks; got {task_a!r} twice")
    texts = _nonempty(texts)
    return _ratio_table(model, texts, [task_a] * len(texts), texts, [task_b] * len(texts), batch_size)


def edit_texts(texts: list[str], edit: str = "drop_word", seed: int = 0) -> list[str]:
    """Small, seeded edits of each text (whitespace-separated words; same seed, same edits).

    ``drop_word`` removes one word; ``swap_word`` replaces one word by a different word (compared
    case-insensitively, as the uncased tokenizer does) drawn from the words of all ``texts``. The
    position and the replacement are drawn from ``numpy.random.default_rng(seed)``, text by text.
    Reordering words is not offered: it keeps the token multiset, so the mean-embedding input
    distance would be zero.

    Example:
        >>> edit_texts(["the cat sat on the mat"], "drop_word", seed=0)
        ['the cat sat on the']
    """
    if edit not in EDITS:
        raise ValueError(f"unknown edit {edit!r}; valid: {list(EDITS)}")
    texts = _nonempty(texts)
    rng = np.random.default_rng(seed)
    vocabulary = sorted({word for text in texts for word in text.split()})
    edited = []
    for index, text in enumerate(texts):
        words = text.split()
        if edit == "drop_word" and len(words) < 2:
            raise ValueError(f"text {index} ({text!r}) has fewer than two words: drop_word would leave nothing")
        position = int(rng.integers(len(words)))
        if edit == "drop_word":
            edited.append(" ".join(words[:position] + words[position + 1 :]))
            continue
        candidates = [w for w in vocabulary if w.lower() != words[position].lower()]
        if not candidates:
            raise ValueError("swap_word needs at least two different words across the texts")
        words[position] = candidates[int(rng.integers(len(candidates)))]
        edited.append(" ".join(words))
    return edited


def content_edit_ratio(model: MoTEModel, texts: list[str], task: str | None, edit: str = "drop_word",
                       seed: int = 0, batch_size: int = 32) -> pd.DataFrame:
    """Per text, output distance over input distance for a small seeded edit of the text, under one task.

    Returns:
        DataFrame ``text, original, edited, input_distance, output_distance, ratio``.

    Example:
        >>> table = content_edit_ratio(model, ["the cat sat on the mat"], "clustering", seed=0)
        >>> table.loc[0, "edited"]
        'the cat sat on the'
    """
    if task is not None:  # None is only valid for EM; encode says so for the other variants
        check_tasks([task], model.config)
    texts = _nonempty(texts)
    edited = edit_texts(texts, edit, seed)
    tasks = [task] * len(texts) if task is not None else None
    table = _ratio_table(model, texts, tasks, edited, tasks, batch_size)
    table.insert(1, "original", texts)
    table.insert(2, "edited", edited)
    return table


def _nonempty(texts) -> list[str]:
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise ValueError("texts is empty: give the sample of texts to probe")
    return texts


# ----------------------------------------------------------------------------- Jacobian probes


def _rows_norm(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).norm(dim=1)


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    return x / _rows_norm(x).clamp_min(torch.finfo(x.dtype).tiny).reshape(-1, *[1] * (x.dim() - 1))


def operator_norm(fn, x: torch.Tensor, n_iterations: int = 50, seed: int = 0) -> torch.Tensor:
    """Per row of ``x``, the largest singular value of the Jacobian of ``fn`` at ``x`` (power iteration).

    ``fn`` maps (batch, ...) to (batch, ...) with rows independent of each other (as a model in
    eval mode is), so its Jacobian is block-diagonal and each row gets its own estimate. Each
    iteration applies J (``torch.func.jvp``) then J^T (``torch.func.vjp``); for a linear map the
    answer is its operator norm once the iteration has converged (fast when the top singular
    value stands apart from the second).

    Returns:
        (batch,) tensor: the local Lipschitz constant in the L2 norm, at ``x``.

    Example:
        >>> a = torch.diag(torch.tensor([3.0, 1.0, 0.5]))
        >>> operator_norm(lambda x: x @ a.T, torch.randn(2, 3)).round(decimals=4).tolist()
        [3.0, 3.0]
    """
    generator = torch.Generator(device=x.device).manual_seed(seed)
    v = _unit_rows(torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype))
    _, pullback = vjp(fn, x)
    for _ in range(n_iterations):
        _, u = jvp(fn, (x,), (v,))
        v = _unit_rows(pullback(u)[0])
    _, u = jvp(fn, (x,), (v,))
    return _rows_norm(u).detach()


@contextmanager
def _probing(model: MoTEModel):
    """Eval mode (no dropout), the math attention kernel (the fused CPU/GPU kernels have no
    forward-mode derivative), and the weights frozen: the probes differentiate with respect to the
    input only, and weights that require grad make every jvp/vjp result carry an autograd graph back
    to them, which the power iteration chains from one iteration to the next (memory grows with
    iterations x texts; the cpu profile's run was killed at 23.5 GB)."""
    was_training = model.training
    requires_grad = {name: p.requires_grad for name, p in model.named_parameters()}
    model.eval()
    model.requires_grad_(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        model.train(was_training)
        for name, p in model.named_parameters():
            p.requires_grad_(requires_grad[name])


def _instruction_function(model: MoTEModel, batch: dict[str, torch.Tensor], task: str, layers: bool):
    """The map from the instruction's word embeddings (batch, n, hidden) to the embedding, or to every layer's pooled states."""
    n = instruction_length(model, task)
    device = model.embeddings.word_embeddings.weight.device
    ids, attention = batch["input_ids"].to(device), batch["attention_mask"].to(device)
    text_mask = text_token_mask(model, batch, task).to(device)
    expert_ids = model.expert_ids([task] * ids.shape[0]).to(device) if model.config.routing == "sequence" else None
    with torch.no_grad():
        words = model.embeddings.word_embeddings(ids)

    def fn(instruction: torch.Tensor):
        embeds = torch.cat([words[:, :1], instruction, words[:, 1 + n :]], dim=1)
        out = model(ids, attention, expert_ids, output_hidden_states=layers, inputs_embeds=embeds)
        if layers:
            return tuple(mean_pool(h, text_mask, normalize=False) for h in out["hidden_states"])
        return out["embedding"]

    return fn, words[:, 1 : 1 + n].clone()


def _instructed_batches(model: MoTEModel, texts, task: str, batch_size: int):
    check_tasks([task], model.config)
    if not model.config.uses_instructions:
        raise ValueError("the 'em' variant has no instruction tokens to differentiate with respect to")
    texts = _nonempty(texts)
    for chunk in batches(texts, batch_size):
        yield model.tokenize(chunk, [task] * len(chunk))


def _directions(x: torch.Tensor, n_directions: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Random unit directions (Frobenius norm 1 per row) in the instruction-embedding space."""
    return [_unit_rows(torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)) for _ in range(n_directions)]


def local_lipschitz(model: MoTEModel, texts: list[str], task: str, n_directions: int = 8, eps: float = 1e-3,
                    seed: int = 0, n_iterations: int = 20, batch_size: int = 16) -> pd.DataFrame:
    """Local Lipschitz estimates of the output embedding with respect to the instruction's word embeddings.

    Per text, with J the Jacobian of the embedding with respect to the instruction slice of the
    word embeddings (n_instruction x hidden numbers):

    * ``lipschitz``: the largest singular value of J (``operator_norm``, ``n_iterations`` power
      iterations): the local Lipschitz constant in the L2 norm;
    * ``directional_mean`` / ``directional_max``: ||J v|| over ``n_directions`` random unit
      directions v (``torch.func.jvp``); the max is a lower bound of ``lipschitz``;
    * ``finite_difference_max``: max over the same directions of ||f(x + eps v) - f(x - eps v)|| / (2 eps);
    * ``finite_difference_error``: max over directions of ||fd - J v|| / ||J v||, the cross-check
      (central differences err by O(eps^2) plus float round-off of O(machine eps / eps)).

    Returns:
        DataFrame with ``text`` and the columns above, one row per text.

    Example:
        >>> table = local_lipschitz(model, ["how do I list files"], "search_query", n_directions=2)
        >>> bool(table.loc[0, "lipschitz"] >= table.loc[0, "directional_max"] * 0.999)
        True
    """
    generator = torch.Generator().manual_seed(seed)
    rows = []
    with _probing(model):
        for batch in _instructed_batches(model, texts, task, batch_size):
            fn, x = _instruction_function(model, batch, task, layers=False)
            directional, finite, errors = [], [], []
            for v in _directions(x, n_directions, generator):
                _, jv = jvp(fn, (x,), (v,))
                with torch.no_grad():
                    fd = (fn(x + eps * v) - fn(x - eps * v)) / (2 * eps)
                directional.append(_rows_norm(jv))
                finite.append(_rows_norm(fd))
                errors.append(_rows_norm(fd - jv) / _rows_norm(jv).clamp_min(torch.finfo(jv.dtype).tiny))
            lipschitz = operator_norm(fn, x, n_iterations, seed)
            directional, finite, errors = (torch.stack(t).detach().double() for t in (directional, finite, errors))
            rows.append(pd.DataFrame({"lipschitz": lipschitz.double().cpu().numpy(),
                                      "directional_mean": directional.mean(0).cpu().numpy(),
                                      "directional_max": directional.max(0).values.cpu().numpy(),
                                      "finite_difference_max": finite.max(0).values.cpu().numpy(),
                                      "finite_difference_error": errors.max(0).values.cpu().numpy()}))
    table = pd.concat(rows, ignore_index=True)
    table.insert(0, "text", np.arange(len(table)))
    return table


def layerwise_lipschitz(model: MoTEModel, texts: list[str], task: str, n_directions: int = 8, seed: int = 0,
                        batch_size: int = 16) -> pd.DataFrame:
    """Per layer, how strongly the instruction's word embeddings move the text's pooled hidden states.

    For every layer's states mean-pooled over the text's own tokens (layer 0: the embedding
    layer's output, which the instruction cannot reach, so 0), ||J_l v|| over random unit
    directions v of the instruction's word embeddings (one ``jvp`` gives all layers). The means are
    over directions and then texts; ``directional_max`` (max over directions, mean over texts) is a
    lower bound of the local Lipschitz constant. ``relative`` divides ``directional_mean`` by the
    mean norm of the pooled state, to compare layers whose states differ in scale.

    Returns:
        DataFrame ``layer, directional_mean, directional_max, state_norm, relative``.

    Example:
        >>> float(layerwise_lipschitz(model, ["how do I list files"], "clustering", n_directions=2).loc[0, "directional_mean"])
        0.0
    """
    generator = torch.Generator().manual_seed(seed)
    norms, states = [], []
    with _probing(model):
        for batch in _instructed_batches(model, texts, task, batch_size):
            fn, x = _instruction_function(model, batch, task, layers=True)
            per_direction = []
            for v in _directions(x, n_directions, generator):
                pooled, tangents = jvp(fn, (x,), (v,))
                per_direction.append(torch.stack([_rows_norm(t) for t in tangents]))  # (layers, batch)
            norms.append(torch.stack(per_direction).detach().double())  # (directions, layers, batch)
            states.append(torch.stack([_rows_norm(p) for p in pooled]).detach().double())
    norms, states = torch.cat(norms, dim=2).cpu(), torch.cat(states, dim=1).cpu()
    mean, maximum, state_norm = norms.mean(0).mean(1), norms.max(0).values.mean(1), states.mean(1)
    return pd.DataFrame({"layer": np.arange(norms.shape[1]), "directional_mean": mean.numpy(),
                         "directional_max": maximum.numpy(), "state_norm": state_norm.numpy(),
                         "relative": (mean / state_norm).numpy()})
