"""The prompts a MoE language model reads a text in: PromptEOL and the eight robustness prompts.

A prompt is a template holding ``{text}`` once; ``PROMPTS`` names the ones of the analysis.

Example:
    >>> from mote_lib.moee.prompts import apply_prompt
    >>> apply_prompt(["a cat"], "sentiment")
    ['This sentence: "a cat" in terms of its sentiment means in one word: "']
"""

from __future__ import annotations

PROMPTEOL = 'This sentence: "{text}" means in one word: "'

# paper: PromptEOL and eight robustness prompts named after what they ask about. The eight
# templates are ours (the paper's exact wording is not known here), written in PromptEOL form.
PROMPTS: dict[str, str] = {
    "none": "{text}",
    "prompteol": PROMPTEOL,
    "style": 'This sentence: "{text}" in terms of its style means in one word: "',
    "sentiment": 'This sentence: "{text}" in terms of its sentiment means in one word: "',
    "tone": 'This sentence: "{text}" in terms of its tone means in one word: "',
    "intent": 'This sentence: "{text}" in terms of its intent means in one word: "',
    "complexity": 'This sentence: "{text}" in terms of its complexity means in one word: "',
    "subjectivity": 'This sentence: "{text}" in terms of its subjectivity means in one word: "',
    "language_style": 'This sentence: "{text}" in terms of its language style means in one word: "',
    "grammatical_structure": 'This sentence: "{text}" in terms of its grammatical structure means in one word: "',
}
ROBUSTNESS_PROMPTS = tuple(name for name in PROMPTS if name != "none")  # the nine of the analysis


def prompt_template(prompt: str) -> str:
    """The template of a prompt name, or ``prompt`` itself when it is a template holding ``{text}``.

    Example:
        >>> prompt_template("prompteol")
        'This sentence: "{text}" means in one word: "'
        >>> prompt_template("Query: {text}")
        'Query: {text}'
    """
    if prompt in PROMPTS:
        return PROMPTS[prompt]
    if "{text}" in prompt:
        return prompt
    raise ValueError(f"unknown prompt {prompt!r}: give a template containing '{{text}}' or one of {list(PROMPTS)}")


def apply_prompt(texts: list[str], prompt: str = "none") -> list[str]:
    """Put each text into the prompt's template (``str.replace``, so braces in texts are safe).

    Example:
        >>> apply_prompt(["a cat"], "prompteol")
        ['This sentence: "a cat" means in one word: "']
    """
    template = prompt_template(prompt)
    return [template.replace("{text}", text) for text in texts]
