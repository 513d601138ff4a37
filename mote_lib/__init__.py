"""mote_lib: Mixture of Task Experts (MoTE) for multi-task text embeddings, and MoEE."""

__version__ = "0.1.0"
