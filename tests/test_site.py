"""The site's own tooling: _ext/book_html.py (one copy of each script on a page) and the pure
parts of scripts/check_site.py (PNG resolution, label sizes, the pages in reading order)."""

import importlib.util
import io
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


check_site = _load(ROOT / "scripts" / "check_site.py")
book_html = _load(ROOT / "_ext" / "book_html.py")


def test_book_html_keeps_one_copy_of_each_script():
    assets = pytest.importorskip("sphinx.builders.html._assets")
    js = assets._JavaScript
    thebe = {"body": "const THEBE_JS_URL = 1"}
    scripts = [js("a.js"), js(None, **thebe), js("b.js"), js("", **thebe), js("", body="other")]
    context = {"script_files": scripts}
    book_html.drop_duplicate_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] is scripts  # changed in place, as the builder expects
    assert [(s.filename, s.attributes.get("body")) for s in scripts] == [
        ("a.js", None), (None, thebe["body"]), ("b.js", None), ("", "other")
    ]  # fmt: skip


@pytest.mark.parametrize("dpi", [72, 100, 137, 200])
def test_png_dpi_reads_what_matplotlib_wrote(dpi):
    buffer = io.BytesIO()
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    assert check_site.png_dpi(buffer.getvalue()) == pytest.approx(dpi, abs=0.02)


def test_png_dpi_is_none_without_a_resolution():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")  # no dpi given: no pHYs chunk
    assert check_site.png_dpi(buffer.getvalue()) is None
    assert check_site.png_dpi(b"GIF89a") is None


def test_label_px_scales_with_the_shown_size_not_the_dpi():
    # 9 pt at 100 dpi is 12.5 image pixels; a 1000 px image shown 820 px wide: 10.25 px.
    assert check_site.label_px(9, 100, 1000, 820) == pytest.approx(10.25)
    assert check_site.label_px(9, 200, 2000, 820) == pytest.approx(10.25)


def test_figure_font_pt_finds_helpers_explicit_sizes_and_functions_defined_earlier():
    defined = {"show_stages": "def show_stages(x):\n    viz.show_images(x)\n"}
    assert check_site.figure_font_pt("ax.plot(x)", defined, 10, 9) == 10
    assert check_site.figure_font_pt("viz.show_matrix(ax, x)", defined, 10, 9) == 9
    assert check_site.figure_font_pt("ax.text(0, 0, 's', fontsize=7.5)", defined, 10, 9) == 7.5
    assert check_site.figure_font_pt("show_stages(outputs)", defined, 10, 9) == 9
    assert check_site.figure_font_pt("show_stagesx(outputs)", defined, 10, 9) == 10


def test_pages_in_reading_order_follows_the_redirect_and_the_chapter_list(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "index.html").write_text(
        '<meta http-equiv="Refresh" content="0; url=book/a.html" />'
    )
    nav = '<nav class="bd-links bd-docs-nav"><a href="#">x</a><a href="b.html">B</a>'
    nav += '<a href="c.html#part">C</a><a href="missing.html">M</a><a href="b.html">B</a></nav>'
    (tmp_path / "book" / "a.html").write_text(f"<html>{nav}<a href='z.html'>after</a></html>")
    for name in ("b", "c", "z"):
        (tmp_path / "book" / f"{name}.html").write_text("")
    assert check_site.pages_in_reading_order(tmp_path) == [
        "book/a.html",
        "book/b.html",
        "book/c.html",
    ]
