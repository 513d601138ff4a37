"""The experiment harness: profiles' plans, the trained-model cache, tables, claims, figures, notebooks.

The layer above the core library (``mote_lib.model``, ``train``, ``evaluate``, the analyses):
it may import the core, the core never imports it.
"""
