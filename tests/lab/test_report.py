"""lab.report: the executed notebooks as one static site; every page, image and link it references exists."""

import re

import pytest

from mote_lib.cli import CommandLineError
from mote_lib.lab import report


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    notebooks = report.executed_notebooks()
    if not notebooks:
        pytest.skip("no executed notebooks in notebooks/")
    output = tmp_path_factory.mktemp("site") / "report"
    return report.write_report(output, notebooks).parent, notebooks


def test_the_index_lists_every_notebook_in_order(site):
    folder, notebooks = site
    index = (folder / "index.html").read_text()
    pages = re.findall(r'<li><a href="([^"]+)">', index)
    assert pages == [f"{path.stem}.html" for path in notebooks] and len(pages) == 10
    assert all((folder / page).is_file() for page in pages)


def test_every_image_and_link_of_every_page_exists_and_nothing_is_fetched(site):
    folder, notebooks = site
    for path in notebooks:
        body = (folder / f"{path.stem}.html").read_text()
        missing = [link for link in report.local_links(body) if not (folder / link).exists()]
        assert not missing, (path.name, missing)
        assert not re.search(r'<script[^>]*src="https?://', body), path.name
    figures = (folder / "09_paper_figures.html").read_text()
    assert figures.count('src="data:image/png;base64,') >= 2  # the figures are inside the page


def test_links_are_repointed_from_the_notebooks_folder(tmp_path):
    body = '<a href="../results/reference/claims.md">c</a><img src="data:image/png;base64,xyz"><a href="#top">t</a>'
    out = report.relink(body, report.NOTEBOOKS / "09_paper_figures.ipynb", report.PROJECT_ROOT / "build" / "report")
    assert 'href="../../results/reference/claims.md"' in out and 'src="data:image/png;base64,xyz"' in out and 'href="#top"' in out


def test_an_existing_site_is_replaced_only_with_overwrite(site):
    folder, notebooks = site
    with pytest.raises(CommandLineError):
        report.write_report(folder, notebooks[:1])
    assert len(list(folder.glob("*.html"))) == len(notebooks) + 1  # untouched
