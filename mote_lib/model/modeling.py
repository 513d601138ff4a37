"""The MoTE encoder: a BERT-family encoder whose feed-forward blocks become one expert per task.

One file for the network, one config, no framework magic (in the spirit of nanoGPT's model.py); the
helpers of ``encode`` are in ``mote_lib.model.encoding``, saved folders in ``mote_lib.model.folder``. The encoder keeps
the pre-trained model's embeddings and self-attention (shared by all tasks) and rebuilds every
layer's feed-forward part as a bank of experts:

    h   = x + Attention(x)                          shared: Q, K, V and output projection
    y   = Expert_e(h)                               e = the expert of the input's task
    Expert(h) = LN_out(W_down act(W_up LN_attn(h)) + LN_attn(h))

so an expert holds the MLP and the layer's two LayerNorms (paper: "an MLP and two normalization
layers"). In a dense layer the bank has one expert; in a MoTE layer it has one per task, each a
copy of the pre-trained weights, so at initialisation MoTE computes exactly the dense model.

Variants, all from this one code path (``MoTEConfig.variant``):

* ``em``: dense, no instruction (the reference every gain is measured against);
* ``ic``: dense, the task instruction prepended to the text (instruction-conditioning);
* ``mote``: instruction prepended and sequence-level routing: the task picks the expert;
* ``mote-tlr``: instruction prepended and token-level routing: a learned router per MoTE layer
  sends each token to its top-1 expert, with a Switch-style load-balancing loss (ablation).

Example:
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> model = MoTEModel.from_base(MoTEConfig(variant="mote"))        # all-MiniLM-L6-v2
    >>> emb = model.encode(["How do I list files?"], task="search_query")
    >>> emb.shape
    (1, 384)
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mote_lib.model.encoding import (
    ON_TRUNCATION,
    _per_text_tasks,
    batches,
    check_finite_embeddings,
    check_tasks,
    check_texts,
    mean_pool,
    padding_order,
    truncation_message,
)
from mote_lib.model.folder import check_layout, read_model_folder, save_model_folder, write_model_files
from mote_lib.names import VARIANTS

DEFAULT_INSTRUCTIONS = {
    "search_query": "search_query: ",
    "search_document": "search_document: ",
    "classification": "classification: ",
    "clustering": "clustering: ",
}

logger = logging.getLogger(__name__)


@dataclass
class MoTEConfig:
    """Everything that defines a model; saved as ``config.json`` with every model.

    Attributes:
        base_model: a built-in name (``minilm``, ``mpnet``), a local folder or a Hub id.
        variant: ``em``, ``ic``, ``mote`` or ``mote-tlr`` (see the module docstring).
        instructions: task -> instruction prepended to the text (IC and MoTE; EM uses none).
        task_to_expert: task -> expert name; several tasks may share an expert. Default: one
            expert per task, named after it.
        layers: which layers get experts: ``"every_other"`` (default: layers 1, 3, 5, ... counted
            from 0, so the last layer of an even-depth model is one), ``"every"``, or a list of indices.
        aux_loss_weight: weight of the load-balancing loss of token-level routing.
        max_seq_length: tokens per input at inference, the instruction included; longer inputs are
            cut. Training may use a shorter length (``TrainConfig.max_seq_length``) without changing it.
        normalize: L2-normalise the mean-pooled embedding (as all-MiniLM-L6-v2 does).
        base_layers: keep only the base model's first N transformer layers (a capacity knob for
            the capacity sweep; ``None`` keeps them all). ``layers`` then counts within those N.
    """

    base_model: str = "minilm"
    variant: str = "mote"
    instructions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_INSTRUCTIONS))
    task_to_expert: dict[str, str] | None = None
    layers: str | list[int] = "every_other"
    aux_loss_weight: float = 0.01
    max_seq_length: int = 256
    normalize: bool = True
    base_layers: int | None = None

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; valid: {list(VARIANTS)}")
        if self.task_to_expert is None:
            self.task_to_expert = {task: task for task in self.instructions}
        missing = sorted(set(self.instructions) - set(self.task_to_expert))
        if missing:
            raise ValueError(f"task_to_expert has no expert for task(s) {missing}")

    @property
    def uses_instructions(self) -> bool:
        return self.variant != "em"

    @property
    def routing(self) -> str:
        return {"mote": "sequence", "mote-tlr": "token"}.get(self.variant, "none")

    @property
    def experts(self) -> list[str]:
        """Expert names, sorted: expert ``i`` of every bank (and of its saved weights) is ``experts[i]``.

        Sorted rather than in ``task_to_expert``'s order, because that order is not kept by a JSON
        round trip that sorts keys (``save_pretrained`` does): the index of an expert must depend
        only on the set of names.
        """
        return sorted(set(self.task_to_expert.values()))

    @property
    def tasks(self) -> list[str]:
        return list(self.instructions)

    def mote_layers(self, num_layers: int) -> list[int]:
        """Indices of the layers that hold experts (none for the dense variants)."""
        if self.routing == "none":
            return []
        if self.layers == "every":
            return list(range(num_layers))
        if self.layers == "every_other":
            return list(range(1, num_layers, 2))
        bad = [i for i in self.layers if not 0 <= i < num_layers]
        if bad:
            raise ValueError(f"layer indices {bad} are outside 0..{num_layers - 1}")
        return sorted(set(self.layers))


# ----------------------------------------------------------------------------- experts


class Expert(nn.Module):
    """A layer's feed-forward part with its two LayerNorms: LN_out(W_down act(W_up a) + a), a = LN_attn(h)."""

    def __init__(self, attention_norm: nn.LayerNorm, up: nn.Linear, act: nn.Module, down: nn.Linear,
                 output_norm: nn.LayerNorm, dropout: float) -> None:
        super().__init__()
        self.attention_norm, self.up, self.act, self.down, self.output_norm = attention_norm, up, act, down, output_norm
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        a = self.attention_norm(h)
        # In-place residual add: saves an allocation per layer; linear and dropout do not need their
        # outputs for backward, so autograd allows it.
        return self.output_norm(self.dropout(self.down(self.act(self.up(a)))).add_(a))


@dataclass
class Route:
    """Where a batch goes: one expert for the whole batch, or row indices per expert."""

    single: int | None
    groups: list[tuple[int, torch.Tensor]]

    @classmethod
    def from_expert_ids(cls, expert_ids: torch.Tensor) -> Route:
        first = int(expert_ids[0])
        if bool((expert_ids == first).all()):
            return cls(single=first, groups=[])
        experts = torch.unique(expert_ids).tolist()
        return cls(single=None, groups=[(e, (expert_ids == e).nonzero(as_tuple=True)[0]) for e in experts])


class ExpertBank(nn.Module):
    """The experts of one layer, and the routing between them.

    Sequence-level routing runs the whole batch through one expert when it holds one task (no
    extra work over a dense layer); a mixed batch is split by expert with tensor indexing.
    Token-level routing (``router`` set) sends each token to the expert its router scores highest.
    """

    def __init__(self, experts: list[Expert], token_router: bool = False) -> None:
        super().__init__()
        self.experts = nn.ModuleList(experts)
        hidden = experts[0].up.in_features
        self.router = nn.Linear(hidden, len(experts), bias=False) if token_router else None
        if self.router is not None:
            nn.init.normal_(self.router.weight, std=0.02)
        self.last_router_logits: torch.Tensor | None = None

    def forward(self, h: torch.Tensor, route: Route | None, token_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the layer output and its auxiliary (load-balancing) loss; None unless token-routed."""
        if self.router is not None:
            return self._token_routed(h, token_mask)
        if len(self.experts) == 1 or route is None:
            return self.experts[0](h), None
        if route.single is not None:
            return self.experts[route.single](h), None
        out = torch.empty_like(h)
        for expert, rows in route.groups:
            out.index_copy_(0, rows, self.experts[expert](h.index_select(0, rows)))
        return out, None

    def _token_routed(self, h: torch.Tensor, token_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.router(h)  # (batch, seq, experts)
        self.last_router_logits = logits.detach()
        probs = logits.float().softmax(dim=-1)
        gate, choice = probs.max(dim=-1)
        flat_h, flat_choice = h.reshape(-1, h.shape[-1]), choice.reshape(-1)
        out = torch.empty_like(flat_h)
        for expert in torch.unique(flat_choice).tolist():
            rows = (flat_choice == expert).nonzero(as_tuple=True)[0]
            out.index_copy_(0, rows, self.experts[expert](flat_h.index_select(0, rows)))
        # ours: scale by gate / gate.detach(), which is 1 in value (so the output is the chosen
        # expert's, and MoTE-TLR at initialisation still equals the dense model) but passes the
        # router its gradient, as Switch's multiplication by the gate does.
        scale = (gate / gate.detach()).reshape(-1, 1).to(out.dtype)
        out = (out * scale).reshape_as(h)
        return out, _load_balancing_loss(probs, choice, token_mask, len(self.experts))


def _load_balancing_loss(probs: torch.Tensor, choice: torch.Tensor, token_mask: torch.Tensor, n: int) -> torch.Tensor:
    """Switch Transformer's auxiliary loss, n * sum_i f_i * P_i, over real (non-padding) tokens.

    f_i is the share of tokens sent to expert i, P_i the mean router probability of expert i; the
    loss is 1 when routing is uniform and grows as it collapses onto few experts.
    """
    mask = token_mask.reshape(-1).to(probs.dtype)
    flat = probs.reshape(-1, n)
    tokens = mask.sum().clamp(min=1)
    share = (F.one_hot(choice.reshape(-1), n).to(probs.dtype) * mask[:, None]).sum(0) / tokens
    mean_prob = (flat * mask[:, None]).sum(0) / tokens
    return n * (share * mean_prob).sum()


# ----------------------------------------------------------------------------- shared attention


class BertAttentionBlock(nn.Module):
    """BERT/MiniLM self-attention with its output projection, up to (not including) the LayerNorm."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.attention = layer.attention.self
        self.projection = layer.attention.output.dense
        self.dropout = layer.attention.output.dropout

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None, position_bias: torch.Tensor | None) -> torch.Tensor:
        attended = self.attention(h, attention_mask=mask)[0]
        return self.dropout(self.projection(attended)).add_(h)


class MPNetAttentionBlock(nn.Module):
    """MPNet self-attention (output projection included), up to (not including) the LayerNorm."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.attention = layer.attention.attn
        self.dropout = layer.attention.dropout

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None, position_bias: torch.Tensor | None) -> torch.Tensor:
        return h + self.dropout(self.attention(h, mask, position_bias)[0])


def _dense_expert(layer: nn.Module, family: str) -> Expert:
    """The pre-trained layer's feed-forward part and norms, as an Expert (sharing its tensors)."""
    attention_norm = layer.attention.output.LayerNorm if family == "bert" else layer.attention.LayerNorm
    return Expert(attention_norm, layer.intermediate.dense, layer.intermediate.intermediate_act_fn,
                  layer.output.dense, layer.output.LayerNorm, layer.output.dropout.p)


class MPNetPositionBias(nn.Module):
    """MPNet's relative-position attention bias, computed by transformers' own code."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.relative_attention_bias = encoder.relative_attention_bias
        self._compute = type(encoder).compute_position_bias
        self.relative_position_bucket = type(encoder).relative_position_bucket

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self._compute(self, h)


ATTENTION_BLOCKS = {"bert": BertAttentionBlock, "mpnet": MPNetAttentionBlock}


# ----------------------------------------------------------------------------- the model


class MoTEModel(nn.Module):
    """An embedding model (EM, IC, MoTE or MoTE-TLR) built from a pre-trained BERT-family encoder.

    Use ``MoTEModel.from_base(config)`` to build one from the base model, ``from_pretrained(dir)``
    to load a saved one, ``encode(texts, task=...)`` to embed.
    """

    def __init__(self, config: MoTEConfig, backbone: nn.Module, tokenizer) -> None:
        super().__init__()
        family = backbone.config.model_type
        if family not in ATTENTION_BLOCKS:
            raise ValueError(f"unsupported base model type {family!r}; supported: {sorted(ATTENTION_BLOCKS)}")
        self.config, self.family, self.tokenizer = config, family, tokenizer
        self.backbone_config = backbone.config
        self.embeddings = backbone.embeddings
        layers = backbone.encoder.layer
        self.attention = nn.ModuleList(ATTENTION_BLOCKS[family](layer) for layer in layers)
        self.position_bias = MPNetPositionBias(backbone.encoder) if family == "mpnet" else None
        mote_layers = set(config.mote_layers(len(layers)))
        self.blocks = nn.ModuleList(
            self._bank(_dense_expert(layer, family), i in mote_layers) for i, layer in enumerate(layers)
        )
        self.expert_index = {name: i for i, name in enumerate(config.experts)}

    def _bank(self, dense: Expert, is_mote_layer: bool) -> ExpertBank:
        if not is_mote_layer:
            return ExpertBank([dense])
        # Every expert starts as an exact copy of the pre-trained feed-forward block and norms.
        experts = [dense] + [copy.deepcopy(dense) for _ in self.config.experts[1:]]
        return ExpertBank(experts, token_router=self.config.routing == "token")

    # -- building and loading ------------------------------------------------------------------

    @classmethod
    def from_base(cls, config: MoTEConfig | None = None, **overrides) -> MoTEModel:
        """Build a model from its pre-trained base encoder (see ``mote_lib.base_models``)."""
        from transformers import AutoModel, AutoTokenizer

        from mote_lib.base_models import resolve_base_model

        config = config or MoTEConfig(**overrides)
        path = resolve_base_model(config.base_model)
        # Loaded with its pooler so the checkpoint matches the architecture; the pooler is not used.
        # fp32 weights whatever the checkpoint's dtype: AdamW on half-precision weights loses updates.
        backbone = AutoModel.from_pretrained(path, dtype=torch.float32)
        if config.base_layers is not None:
            _truncate(backbone, config.base_layers)
        return cls(config, backbone, AutoTokenizer.from_pretrained(path))

    @classmethod
    def from_backbone_config(cls, config: MoTEConfig, backbone_config, tokenizer) -> MoTEModel:
        """Build a randomly initialised model of a given architecture (tests, loading)."""
        from transformers import AutoModel

        backbone = AutoModel.from_config(backbone_config, add_pooling_layer=False)
        return cls(config, backbone, tokenizer)

    def save_pretrained(self, directory: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write ``config.json``, ``model.safetensors``, the tokenizer files and a model card, atomically.

        The folder is written under a temporary name and renamed at the end, so an interrupted
        save (a kill, a full disk) never leaves a half-written model where a complete one is
        expected. A folder that is not empty is replaced only with ``overwrite=True``
        (``mote_lib.model.folder``).
        """
        return save_model_folder(self, Path(directory), overwrite)

    def write_files(self, folder: Path) -> None:
        """Write the model's files into an existing ``folder`` (not atomic: ``save_pretrained`` is).

        ``config.json`` records the sha256 of ``model.safetensors``, which ``from_pretrained`` checks.
        """
        write_model_files(self, folder)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> MoTEModel:
        """Load a model written by ``save_pretrained``, checking it on the way.

        Raises ``ModelFolderError`` (one line: the file, what is wrong, what to do) for a folder that
        is not a mote_lib model, a damaged or truncated file, weights whose sha256 differs from the
        one recorded at save time or that hold NaN or inf, weights of another variant than
        ``config.json`` says, or a missing tokenizer. Folders saved before digests were recorded
        load with a warning.
        """
        directory = Path(directory)
        config, backbone_config, state, tokenizer = read_model_folder(directory, MoTEConfig)
        model = cls.from_backbone_config(config, backbone_config, tokenizer)
        check_layout(directory / "model.safetensors", model, state)
        model.load_state_dict(state)
        return model.eval()

    # -- forward ---------------------------------------------------------------------------------

    def expert_ids(self, tasks: list[str]) -> torch.Tensor:
        """The expert index of each input's task (raises on an unknown task)."""
        check_tasks(tasks, self.config)
        return torch.tensor([self.expert_index[self.config.task_to_expert[t]] for t in tasks])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, expert_ids: torch.Tensor | None = None,
                output_hidden_states: bool = False, inputs_embeds: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Embed a tokenised batch.

        ``inputs_embeds`` (batch, seq, hidden), if given, replaces the word-embedding lookup of
        ``input_ids`` (positions, token types and the embedding LayerNorm still apply; ``input_ids``
        still give the shape and MPNet's positions): sensitivity analyses perturb or differentiate
        the model with respect to the token embeddings (``mote_lib.sensitivity``).

        Returns:
            ``embedding`` (batch, hidden): mean-pooled (and L2-normalised if configured);
            ``aux_loss``: the load-balancing loss (zero unless token-routed);
            ``hidden_states`` (if asked): the input to every layer plus the last output.
        """
        from transformers.masking_utils import create_bidirectional_mask

        if self.config.routing == "sequence" and expert_ids is None:
            raise ValueError("a MoTE model needs the task of every input (expert_ids): it picks the expert")
        if expert_ids is not None and tuple(expert_ids.shape) != (input_ids.shape[0],):
            raise ValueError(f"expert_ids has shape {tuple(expert_ids.shape)}; expected one id per input, ({input_ids.shape[0]},)")
        route = Route.from_expert_ids(expert_ids.to(input_ids.device)) if self.config.routing == "sequence" else None
        h = self.embeddings(input_ids=input_ids, inputs_embeds=inputs_embeds)
        mask = create_bidirectional_mask(config=self.backbone_config, inputs_embeds=h, attention_mask=attention_mask)
        position_bias = self.position_bias(h) if self.position_bias is not None else None
        hidden_states, aux_loss = [h], h.new_zeros(())
        for attention, block in zip(self.attention, self.blocks):
            h, aux = block(attention(h, mask, position_bias), route, attention_mask)
            if aux is not None:
                aux_loss = aux_loss + aux
            if output_hidden_states:
                hidden_states.append(h)
        out = {"embedding": mean_pool(h, attention_mask, self.config.normalize), "aux_loss": aux_loss}
        if output_hidden_states:
            out["hidden_states"] = hidden_states
        return out

    def router_logits(self) -> list[torch.Tensor]:
        """Token-routed models: each MoTE layer's router logits from the last forward pass."""
        return [b.last_router_logits for b in self.blocks if b.router is not None]

    # -- encoding ----------------------------------------------------------------------------------

    def tokenize(self, texts: list[str], tasks: list[str] | None, max_length: int | None = None) -> dict[str, torch.Tensor]:
        """Prepend each input's instruction (IC and MoTE variants) and tokenise.

        ``max_length`` defaults to ``config.max_seq_length``; the instruction counts towards it.
        """
        length = max_length or self.config.max_seq_length
        return self.tokenizer(self._instructed(texts, tasks), padding=True, truncation=True, max_length=length,
                              return_tensors="pt")

    def tokenize_unpadded(self, texts: list[str], tasks: list[str] | None) -> tuple[list[torch.Tensor], list[int]]:
        """Each input's token ids, cut to ``config.max_seq_length``, and the indices of those that were cut.

        One tokenizer pass (in windows of 4,096 texts), the instruction and special tokens counted
        towards the limit; ``pad_batch`` makes a batch of any of them. ``encode`` batches them by
        length (``padding_order``) rather than tokenising again per batch.
        """
        instructed, limit, ids, cut = self._instructed(texts, tasks), self.config.max_seq_length, [], []
        for start in range(0, len(instructed), 4096):
            window = instructed[start : start + 4096]
            tokens = self.tokenizer(window, truncation=True, max_length=limit, return_attention_mask=False,
                                    return_token_type_ids=False)
            ids += [torch.tensor(row, dtype=torch.long) for row in tokens["input_ids"]]
            if tokens.encodings is not None:  # a fast tokenizer keeps what it cut off
                cut += [start + row for row, encoding in enumerate(tokens.encodings) if encoding.overflowing]
            else:  # a slow one: count the tokens without truncation
                lengths = self.tokenizer(window, truncation=False, verbose=False, return_length=True)["length"]
                cut += [start + row for row, length in enumerate(lengths) if length > limit]
        return ids, cut

    def pad_batch(self, ids: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` of a batch of unpadded ids (padded on the right, as BERT's positions need)."""
        width = max(len(row) for row in ids)
        input_ids = torch.full((len(ids), width), self.tokenizer.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)], attention_mask[i, : len(row)] = row, 1
        return input_ids, attention_mask

    def _instructed(self, texts: list[str], tasks: list[str] | None) -> list[str]:
        """Each text behind its task's instruction (IC and MoTE variants); EM texts as they are."""
        if tasks is not None and len(tasks) != len(texts):  # zip would drop the extra texts silently
            raise ValueError(f"{len(tasks)} tasks for {len(texts)} texts: give one task per text")
        if not self.config.uses_instructions:
            return texts
        if tasks is None:
            raise ValueError(f"the {self.config.variant!r} variant needs a task; valid: {self.config.tasks}")
        check_tasks(tasks, self.config)
        return [self.config.instructions[t] + text for t, text in zip(tasks, texts)]

    def encode(self, texts: str | list[str], task: str | list[str] | None = None, batch_size: int = 32,
               device: str | torch.device | None = None, show_progress_bar: bool = False,
               convert_to_numpy: bool = True, on_truncation: str = "warn", allow_empty: bool = False) -> np.ndarray | torch.Tensor:
        """Embed texts for a task (sentence-transformers style).

        Args:
            texts: one text or a list of strings.
            task: the task of every text (``"search_query"``, ``"search_document"``,
                ``"classification"``, ``"clustering"``), or one task per text. The EM variant ignores it.
            batch_size: texts per forward pass; texts are batched by token count so batches
                pad little (``padding_order``).
            device: where to run (default: where the model is).
            show_progress_bar: a tqdm bar over batches.
            convert_to_numpy: return a float32 numpy array (default) or a torch tensor.
            on_truncation: texts longer than ``config.max_seq_length`` tokens (instruction included)
                are cut to it: ``"warn"`` (default) logs how many, once per call (logger
                ``mote_lib.model``); ``"raise"`` makes it an error; ``"ignore"`` says nothing; a
                callable is called once with the sorted indices of the cut texts (to count them;
                nothing is logged).
            allow_empty: embed empty and whitespace-only texts (their embedding is the instruction's
                alone) instead of raising; e.g. for benchmark corpora that hold empty documents.

        Returns:
            (len(texts), hidden) embeddings, in the order of ``texts``.

        Raises:
            TypeError: a text is not a string (its index and type are named).
            ValueError: an empty text (unless ``allow_empty``), a cut text with ``on_truncation="raise"``.
            FloatingPointError: an embedding holds NaN or inf (the texts' indices are named).
        """
        if not callable(on_truncation) and on_truncation not in ON_TRUNCATION:
            raise ValueError(f"on_truncation={on_truncation!r}; valid: {list(ON_TRUNCATION)} or a callable")
        single = isinstance(texts, str)
        texts = [texts] if single else list(texts)
        check_texts(texts, allow_empty)
        tasks = _per_text_tasks(task, len(texts), self.config)
        device = torch.device(device) if device is not None else next(self.parameters()).device
        if next(self.parameters()).device != device:
            self.to(device)
        ids, cut = self.tokenize_unpadded(texts, tasks)
        if cut and on_truncation == "raise":  # before any work
            raise ValueError(truncation_message(cut, len(texts), self.config.max_seq_length, raised=True))
        expert_ids = self.expert_ids(tasks) if self.config.routing == "sequence" else None
        order = padding_order([len(row) for row in ids])
        chunks = list(batches(order, batch_size))
        if show_progress_bar:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc="encode", unit="batch")
        was_training = self.training
        self.eval()
        out = torch.empty(len(texts), self.backbone_config.hidden_size)
        try:
            with torch.inference_mode():
                for chunk in chunks:
                    rows = torch.tensor(chunk)
                    input_ids, attention_mask = self.pad_batch([ids[i] for i in chunk])
                    result = self(input_ids.to(device), attention_mask.to(device),
                                  expert_ids[rows].to(device) if expert_ids is not None else None)
                    out[rows] = result["embedding"].float().cpu()
        finally:
            self.train(was_training)
        if cut and on_truncation == "warn":
            logger.warning(truncation_message(cut, len(texts), self.config.max_seq_length, raised=False))
        if callable(on_truncation):  # e.g. the evaluation's count of cut texts per task
            on_truncation(sorted(cut))
        check_finite_embeddings(out)
        out = out[0:1] if single else out
        return out.numpy() if convert_to_numpy else out

    def encode_query(self, texts: str | list[str], **kwargs) -> np.ndarray | torch.Tensor:
        """``encode(texts, task="search_query", ...)``: sentence-transformers' name for embedding queries.

        Example:
            >>> model = MoTEModel.from_base(MoTEConfig(variant="mote"))
            >>> queries, documents = model.encode_query(["list files"]), model.encode_document(["ls lists files"])
            >>> bool((queries @ documents.T)[0, 0] > 0.5)
            True
        """
        return self.encode(texts, task="search_query", **kwargs)

    def encode_document(self, texts: str | list[str], **kwargs) -> np.ndarray | torch.Tensor:
        """``encode(texts, task="search_document", ...)``: sentence-transformers' name for embedding documents."""
        return self.encode(texts, task="search_document", **kwargs)

    # -- parameters --------------------------------------------------------------------------------

    def parameter_counts(self) -> dict[str, int]:
        """Total parameters, and parameters active for one input (one expert per layer, plus routers)."""
        total = sum(p.numel() for p in self.parameters())
        inactive = sum(sum(p.numel() for p in expert.parameters()) for bank in self.blocks for expert in bank.experts[1:])
        return {"total": total, "active": total - inactive}


def _truncate(backbone: nn.Module, n: int) -> None:
    """Keep the first ``n`` layers of a pre-trained encoder (its config says so, for saving)."""
    depth = len(backbone.encoder.layer)
    if not 1 <= n <= depth:
        raise ValueError(f"base_layers={n}: the base model has {depth} layers; choose 1..{depth}")
    backbone.encoder.layer = backbone.encoder.layer[:n]
    backbone.config.num_hidden_layers = n
