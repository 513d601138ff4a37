"""figures/README.md indexes exactly the figures in figures/."""

import re

from mote_lib.paths import PROJECT_ROOT

FIGURES = PROJECT_ROOT / "figures"


IGNORED = {"smoke", "tiny"}  # figures of throwaway profiles (ignored by git)


def indexed_figures() -> tuple[set[str], set[str]]:
    """The figures figures/README.md lists (``stem`` or ``folder/stem``), and those of them marked optional."""
    text = (FIGURES / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)`( \(optional\))? \|", text, flags=re.MULTILINE)
    bullets = re.findall(r"^- `([a-z0-9_-]+/[a-z0-9_]+)`", text, flags=re.MULTILINE)
    return {stem for stem, _ in rows} | set(bullets), {stem for stem, optional in rows if optional}


def present_figures() -> set[str]:
    """Every PNG under figures/ (top level: ``stem``; a profile's folder: ``folder/stem``), throwaway folders aside."""
    found = set()
    for png in FIGURES.rglob("*.png"):
        relative = png.relative_to(FIGURES).with_suffix("")
        if relative.parts[0] not in IGNORED:
            found.add(relative.as_posix())
    return found


def test_index_lists_every_figure_in_every_folder_and_nothing_else():
    indexed, optional = indexed_figures()
    present = present_figures()
    assert present <= indexed, f"not in figures/README.md: {sorted(present - indexed)}"
    assert indexed - optional <= present, f"listed but missing: {sorted(indexed - optional - present)}"
    assert any("/" in stem for stem in indexed) and optional  # the reference folder and the optional ones are covered
    for stem in present:
        assert (FIGURES / f"{stem}.pdf").exists(), f"{stem}.pdf missing"


def test_indexed_notebooks_exist():
    text = (FIGURES / "README.md").read_text()
    for notebook in set(re.findall(r"`notebooks/([0-9]{2}_[a-z_]+)`", text)):
        assert (FIGURES.parent / "notebooks" / f"{notebook}.py").exists(), notebook


def test_committed_pdfs_embed_no_type3_fonts():
    # savefig writes TrueType (fonttype 42); a Type 3 font here means the PDF predates that or bypassed savefig
    type3 = [p.name for p in sorted(FIGURES.rglob("*.pdf"))
             if p.relative_to(FIGURES).parts[0] not in IGNORED and b"/Subtype /Type3" in p.read_bytes()]
    assert type3 == [], f"re-run the notebooks that draw {type3} (journals reject Type 3 fonts)"
