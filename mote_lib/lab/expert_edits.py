"""Edited copies of a trained, sequence-routed MoTE model: experts swapped, reset, merged or averaged.

Each function returns a deep copy; the model passed in is never changed. They serve the route
ablation (pre-registered check 4), the swap matrix (amendment 1, A4), WAVE (A5 iii) and the expert
merges (A5 iv):

* ``routed_to(model, task, expert)``: ``task``'s inputs go to ``expert`` (they keep their instruction);
* ``expert_reset(model, initial, task)``: the expert ``task`` routes to holds its initial weights;
* ``merged(model, experts)``: the named experts replaced, in every MoTE layer, by their equal-weight
  average (both keep their routes, so both routes now use the average);
* ``wave(model)``: every expert of every MoTE layer replaced by the average of all of them.

Example:
    >>> from mote_lib.model import MoTEConfig, MoTEModel
    >>> model = MoTEModel.from_base(MoTEConfig(variant="mote", base_model="tiny-random-bert"))
    >>> averaged = wave(model)
    >>> bank = next(b for b in averaged.blocks if len(b.experts) > 1)
    >>> all(torch.equal(bank.experts[0].up.weight, e.up.weight) for e in bank.experts)
    True
"""

from __future__ import annotations

import copy

import torch

from mote_lib.model import MoTEModel


def _expert_banks(model: MoTEModel) -> list:
    """The layers that hold several experts (the MoTE layers)."""
    if model.config.variant != "mote":
        raise ValueError(f"expert edits need a sequence-routed MoTE model; this one is {model.config.variant!r}")
    return [bank for bank in model.blocks if len(bank.experts) > 1]


def routed_to(model: MoTEModel, task: str, expert: str) -> MoTEModel:
    """A copy whose ``task`` inputs go to ``expert`` (keeping ``task``'s instruction)."""
    _expert_banks(model)
    if expert not in model.expert_index:
        raise ValueError(f"no expert {expert!r}; the model has {sorted(model.expert_index)}")
    edited = copy.deepcopy(model)
    # expert_index was fixed when the model was built, so the task now reaches the other expert's weights.
    edited.config.task_to_expert[task] = expert
    return edited


def expert_reset(model: MoTEModel, initial: MoTEModel, task: str) -> MoTEModel:
    """A copy in which the expert ``task`` routes to holds its initial weights (``initial``'s) in every MoTE layer."""
    edited = copy.deepcopy(model)
    name = edited.config.task_to_expert[task]
    for bank, start in zip(_expert_banks(edited), _expert_banks(initial), strict=True):
        bank.experts[edited.expert_index[name]].load_state_dict(start.experts[initial.expert_index[name]].state_dict())
    return edited


def merged(model: MoTEModel, experts: list[str]) -> MoTEModel:
    """A copy in which ``experts`` (two or more names) hold their equal-weight average in every MoTE layer."""
    if len(set(experts)) < 2 or not set(experts) <= set(model.expert_index):
        raise ValueError(f"merge two or more of the model's experts {sorted(model.expert_index)}; got {experts}")
    edited = copy.deepcopy(model)
    for bank in _expert_banks(edited):
        _average_into(bank, [edited.expert_index[name] for name in experts])
    return edited


def wave(model: MoTEModel) -> MoTEModel:
    """WAVE: a copy in which every expert of every MoTE layer holds the average of that layer's experts."""
    edited = copy.deepcopy(model)
    for bank in _expert_banks(edited):
        _average_into(bank, list(range(len(bank.experts))))
    return edited


@torch.no_grad()
def _average_into(bank, indices: list[int]) -> None:
    states = [bank.experts[i].state_dict() for i in indices]
    average = {name: torch.stack([state[name] for state in states]).mean(0) for name in states[0]}
    for i in indices:
        bank.experts[i].load_state_dict(average)
