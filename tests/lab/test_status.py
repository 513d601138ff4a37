"""mote_lib.lab.status: README's Status block is generated from the committed results, and kept so."""

from __future__ import annotations

import pytest

from mote_lib.lab import status
from mote_lib.paths import PROJECT_ROOT


def test_the_readme_status_block_is_what_the_committed_results_say():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert status.replace_block(readme, status.status_block()) == readme, (
        "README.md's Status differs from the results: run `python -m mote_lib.lab.status`")


def test_replacing_the_block_keeps_the_rest_and_names_missing_markers():
    text = f"# T\n\n## Status\n\n{status.BEGIN}\nold\n{status.END}\n\n## Next\n"
    assert status.replace_block(text, f"{status.BEGIN}\nnew\n{status.END}") == (
        f"# T\n\n## Status\n\n{status.BEGIN}\nnew\n{status.END}\n\n## Next\n")
    with pytest.raises(ValueError, match="README.md lacks the status markers"):
        status.replace_block("# T\n", "x")


def test_without_results_the_block_says_nothing_has_run(results):
    assert "has not produced a result yet" in status.status_block()
