"""mote_lib: Mixture of Task Experts (MoTE) for multi-task text embeddings, and MoEE."""

# The one place the version is written: pyproject.toml reads it (dynamic version), model cards
# record it, and tests/test_packaging.py checks that CITATION.cff says the same.
__version__ = "0.1.0"
