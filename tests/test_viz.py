"""cnn_lib.viz: the book's figure style (legible text sizes, sharp inline figures in Jupyter), and
helpers that draw the numbers they are given, of any real dtype."""

import base64
import io
import struct

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.font_manager import FontProperties

from cnn_lib import viz


@pytest.fixture(autouse=True)
def _restore_rcparams():
    with mpl.rc_context():
        yield
    plt.close("all")


def _text_sizes(fig):
    fig.canvas.draw()
    return [t.get_fontsize() for t in fig.findobj(mpl.text.Text) if t.get_text()]


def test_style_draws_no_text_below_the_smallest_size():
    viz.use_book_style()
    keys = ["font.size", "xtick.labelsize", "ytick.labelsize", "axes.labelsize", "axes.titlesize",
            "legend.fontsize", "figure.titlesize"]  # fmt: skip
    sizes = {k: FontProperties(size=mpl.rcParams[k]).get_size_in_points() for k in keys}
    assert min(sizes.values()) >= viz.SMALL_FONT_PT, sizes
    assert mpl.rcParams["figure.facecolor"] == "white"


def test_helpers_draw_no_text_below_the_smallest_size():
    viz.use_book_style()
    grid = viz.show_images(np.zeros((3, 4, 4)), titles=["a", "b", "c"])
    fig, ax = plt.subplots()
    viz.show_matrix(ax, np.arange(6).reshape(2, 3), title="x")
    for figure in (grid, fig):
        sizes = _text_sizes(figure)
        assert sizes and min(sizes) >= viz.SMALL_FONT_PT, sizes


def test_inline_figures_have_twice_the_pixels_at_the_same_size_in_jupyter():
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        viz.use_book_style()
        fig = plt.figure(figsize=(3, 2))
        fig.add_subplot().plot([0, 1])
        data, metadata = shell.display_formatter.format(fig)
    finally:
        interactiveshell.InteractiveShell.clear_instance()
    png = data["image/png"]
    png = png if isinstance(png, bytes) else base64.b64decode(png)
    width = struct.unpack(">I", png[16:20])[0]  # the IHDR chunk's width, in pixels
    shown = metadata["image/png"]["width"]  # the width the page shows it at
    assert shown == width // 2
    assert 2.5 * 100 < shown <= 3 * 100  # about 3 inches at 100 px per inch, trimmed to its ink


def test_saved_figures_keep_the_figure_dpi_outside_jupyter():
    viz.use_book_style()  # no IPython shell: the double resolution is for inline figures only
    buffer = io.BytesIO()
    plt.figure(figsize=(2, 1)).savefig(buffer, format="png")
    assert struct.unpack(">I", buffer.getvalue()[16:20])[0] == 2 * 100


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int64, np.float32])
def test_show_matrix_writes_every_value_unchanged(dtype):
    """Integers are only drawn, never computed with: no uint8 wrap-around, no rounding."""
    values = np.array([[0, 100], [127, 3]], dtype=dtype)
    fig, ax = plt.subplots()
    viz.show_matrix(ax, values)
    assert [t.get_text() for t in ax.texts] == ["0", "100", "127", "3"]
    plt.close(fig)


def test_show_images_and_the_animation_take_uint8_images():
    fig = viz.show_images(np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4), titles=["a", "b"])
    assert len(fig.axes) == 2
    plt.close(fig)
    anim = viz.sliding_window_animation(np.arange(16, dtype=np.uint8).reshape(4, 4), 2, stride=2)
    assert list(anim.new_frame_seq()) == [0, 1, 2, 3]  # (4 - 2) // 2 + 1 = 2 positions per axis
    assert "<img" in anim.to_jshtml()  # every frame drawn


def test_show_images_takes_the_layers_nchw_grey_images():
    fig = viz.show_images(np.zeros((3, 1, 5, 5), np.float32))
    assert len(fig.axes) == 3
    plt.close(fig)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: viz.show_images(np.zeros((0, 4, 4))), ValueError, "at least one image"),
        (lambda: viz.show_images(np.zeros((2, 4, 4)), ncols=0), ValueError, "ncols must be"),
        (lambda: viz.show_images(np.zeros((2, 4, 4)), titles=["a"]), ValueError, "2 titles"),
        (lambda: viz.show_images(np.zeros((2, 3, 4, 5))), ValueError, r"got \(2, 3, 4, 5\)"),
        (lambda: viz.show_matrix(None, np.zeros((0, 3))), ValueError, "non-empty 2-D array"),
        (lambda: viz.sliding_window_animation(np.zeros((3, 3)), 4), ValueError, "does not fit"),
        (lambda: viz.sliding_window_animation(np.zeros((3, 3)), 0), ValueError, "kernel_size"),
        (lambda: viz.sliding_window_animation(np.zeros((4, 4)), 2, -1), ValueError, "stride"),
        (lambda: viz.sliding_window_animation(np.zeros(4), 2), ValueError, r"shape \(H, W\)"),
    ],
)
def test_helpers_refuse_what_they_cannot_draw(call, error, message):
    with pytest.raises(error, match=message):
        call()
    plt.close("all")


def test_show_images_keeps_one_pixel_high_colour_images_in_colour():
    fig = viz.show_images(np.zeros((2, 1, 5, 3), np.uint8))  # (n, H=1, W=5, RGB), not NCHW
    assert fig.axes[0].images[0].get_array().shape == (1, 5, 3)
    plt.close(fig)
