"""figures/README.md indexes exactly the figures in figures/."""

import re

from mote_lib.paths import PROJECT_ROOT

FIGURES = PROJECT_ROOT / "figures"


def test_index_lists_every_figure_and_nothing_else():
    indexed = set(re.findall(r"^\| `([^`]+)` \|", (FIGURES / "README.md").read_text(), flags=re.MULTILINE))
    present = {p.stem for p in FIGURES.glob("*.png")}
    assert indexed == present
    for stem in present:
        assert (FIGURES / f"{stem}.pdf").exists(), f"{stem}.pdf missing"


def test_indexed_notebooks_exist():
    text = (FIGURES / "README.md").read_text()
    for notebook in set(re.findall(r"`notebooks/([0-9]{2}_[a-z_]+)`", text)):
        assert (FIGURES.parent / "notebooks" / f"{notebook}.py").exists(), notebook


def test_committed_pdfs_embed_no_type3_fonts():
    # savefig writes TrueType (fonttype 42); a Type 3 font here means the PDF predates that or bypassed savefig
    type3 = [p.name for p in sorted(FIGURES.glob("*.pdf")) if b"/Subtype /Type3" in p.read_bytes()]
    assert type3 == [], f"re-run the notebooks that draw {type3} (journals reject Type 3 fonts)"
