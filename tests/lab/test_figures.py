"""mote_lib.lab.figures.savefig writes PNG and PDF, and the same figure twice gives the same bytes."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mote_lib.lab.figures import savefig  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 2], [2, 0, 1])
    return fig


def test_savefig_writes_png_and_pdf_into_the_figures_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path))
    paths = savefig(_figure(), "demo")
    assert [p.name for p in paths] == ["demo.png", "demo.pdf"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_savefig_pdf_carries_no_creation_date(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path))
    pdf = savefig(_figure(), "demo", formats=("pdf",))[0].read_bytes()
    assert b"/CreationDate" not in pdf


def test_savefig_is_reproducible(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path / "a"))
    first = [p.read_bytes() for p in savefig(_figure(), "demo")]
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path / "b"))
    second = [p.read_bytes() for p in savefig(_figure(), "demo")]
    assert first == second


def test_figures_of_other_profiles_go_to_their_own_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTE_FIGURES", str(tmp_path))
    assert savefig(_figure(), "demo", formats=("png",), profile="cpu")[0] == tmp_path / "demo.png"
    assert savefig(_figure(), "demo", formats=("png",), profile="smoke")[0] == tmp_path / "smoke" / "demo.png"
