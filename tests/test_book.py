"""The book's frame: the table of contents, the chapters' first cells, and stored outputs."""

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CHAPTERS = [ROOT / f"{entry['file']}.ipynb" for entry in TOC["chapters"]]


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


def test_toc_lists_the_chapters_in_reading_order():
    names = [p.stem.split("_", 1)[1] for p in CHAPTERS]
    order = ["convolution", "pooling", "padding", "flattening", "dropout", "stride", "dense",
             "cross_entropy", "training", "cost"]  # fmt: skip
    assert names == [n for n in order if n in names]
    assert all(p.exists() for p in CHAPTERS), [str(p) for p in CHAPTERS if not p.exists()]
    assert TOC["root"] == "book/intro"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_with_its_title_and_the_colab_cell(path):
    cells = _cells(path)
    assert cells[0]["cell_type"] == "markdown" and _source(cells[0]).startswith("# ")
    colab = cells[1]
    assert colab["cell_type"] == "code" and '"google.colab" in sys.modules' in _source(colab)
    url = CONFIG["repository"]["url"]
    assert f"git+{url}" in _source(colab), f"{path.name}: the Colab cell should install from {url}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_stored_executed_without_errors(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code), f"{path.name} has unexecuted cells"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name} stores an error output"
    counts = [c["execution_count"] for c in code]
    assert counts == sorted(counts), f"{path.name} was not executed top to bottom"


def test_execution_settings_fail_loudly():
    assert CONFIG["execute"]["raise_on_error"] is True
    assert CONFIG["only_build_toc_files"] is True
    assert CONFIG["sphinx"]["recursive_update"] is True
