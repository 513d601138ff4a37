"""The names command lines check before anything heavy is imported: model variants and evaluation suites.

Standard library only: ``python -m mote_lib.train`` and ``python -m mote_lib.evaluate`` refuse an
unknown variant or suite in a fraction of a second, before torch, datasets or mteb load, and the
model and the suite registry use the same tuples.

Example:
    >>> from mote_lib.names import SUITES, VARIANTS
    >>> VARIANTS, SUITES
    (('em', 'ic', 'mote', 'mote-tlr'), ('offline', 'mteb-lite', 'mteb-en'))
"""

VARIANTS = ("em", "ic", "mote", "mote-tlr")  # see mote_lib.model.MoTEConfig.variant
SUITES = ("offline", "mteb-lite", "mteb-en")  # see mote_lib.mteb_tasks
# mteb task types whose inputs take a MoTE task of their own (mote_lib.evaluate routes the rest).
TYPE_TO_TASK = {"Classification": "classification", "Clustering": "clustering"}
# mteb task types scored per query, whose inputs are routed as queries and documents: the one home of this pair.
RETRIEVAL_TYPES = ("Retrieval", "Reranking")
