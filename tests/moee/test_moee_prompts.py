"""The prompts of mote_lib.moee.prompts: PromptEOL, the robustness prompts, custom templates."""

from __future__ import annotations

import pytest

from mote_lib import moee


def test_prompt_templates():
    assert len(moee.ROBUSTNESS_PROMPTS) == 9 and moee.ROBUSTNESS_PROMPTS[0] == "prompteol"
    for name in moee.ROBUSTNESS_PROMPTS:
        template = moee.PROMPTS[name]
        assert template.count("{text}") == 1 and template.startswith('This sentence: "{text}"') and template.endswith('in one word: "')
    assert moee.apply_prompt(["a {b} c"], "Q: {text}") == ["Q: a {b} c"]
    with pytest.raises(ValueError, match="prompteol"):
        moee.prompt_template("promptEOL?")
