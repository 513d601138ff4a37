"""InfoNCE with in-batch negatives, hard negatives, per-row temperatures and label masking.

For anchor i the candidates are every positive in the batch and every hard negative; its own
positive is the target. Two masks keep false negatives out:

* label-based examples (classification, clustering): the positive of another row with the same
  label (within the same dataset) is not a negative (paper: TA-CL; ours: labels compare within a
  dataset only);
* ours: a labelled anchor does not see other rows' hard negatives, whose labels are not stored
  (one of them may share the anchor's label); it keeps its own hard negative.

Example:
    >>> import torch, torch.nn.functional as F
    >>> a = F.normalize(torch.randn(4, 8), dim=-1); p = F.normalize(torch.randn(4, 8), dim=-1)
    >>> loss = info_nce(a, p, temperature=torch.full((4,), 0.05))
    >>> loss.shape
    torch.Size([])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    temperature: torch.Tensor,
    negatives: torch.Tensor | None = None,
    negative_owner: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Contrastive loss of a batch.

    Args:
        anchors: (B, d) anchor embeddings (L2-normalised: the logits are cosines / temperature).
        positives: (B, d) the positive of each anchor.
        temperature: (B,) the temperature of each row (TA-CL: per task).
        negatives: (M, d) hard negatives, or None.
        negative_owner: (M,) the row each hard negative belongs to.
        labels: (B,) integer label ids, -1 where a row has no label; ids must already be distinct
            across datasets.
        reduction: ``"mean"`` over rows, or ``"none"`` for the per-row losses.

    Returns:
        The loss (a scalar, or (B,) with ``reduction="none"``).
    """
    rows = anchors.shape[0]
    if negatives is not None and (negative_owner is None or negative_owner.shape[0] != negatives.shape[0]):
        raise ValueError("hard negatives need negative_owner: the row each one belongs to, one per negative")
    candidates = positives if negatives is None else torch.cat([positives, negatives])
    logits = (anchors @ candidates.T).float() / temperature.float()[:, None]
    excluded = torch.zeros_like(logits, dtype=torch.bool)
    if labels is not None:
        labelled = labels >= 0
        same_label = (labels[:, None] == labels[None, :]) & labelled[:, None]
        same_label.fill_diagonal_(False)
        excluded[:, :rows] = same_label
        if negatives is not None:
            foreign = negative_owner[None, :] != torch.arange(rows, device=anchors.device)[:, None]
            excluded[:, rows:] = labelled[:, None] & foreign
    logits = logits.masked_fill(excluded, float("-inf"))
    return F.cross_entropy(logits, torch.arange(rows, device=anchors.device), reduction=reduction)
