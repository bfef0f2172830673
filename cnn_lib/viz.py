"""Pictures for the chapters: a white-background style and a few figure helpers.

Every figure has a white background so it stays legible in the book's dark theme. Its text is
drawn at ``SMALL_FONT_PT`` points or more: on the book's pages (an 820 px column at 1280 px), a
figure up to 11 inches wide then shows its smallest label at least 9 px high.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation

from ._checks import as_int

# The smallest text in a figure, in points: the titles in show_images' grid and the numbers in
# show_matrix's cells. A label of p points in a figure w inches wide, shown c px wide on the page,
# is p / 72 * c / w px high (the dpi cancels out): 9 pt in 10 inches shown at 820 px is 10.3 px.
SMALL_FONT_PT = 9

BOOK_STYLE = {
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.facecolor": "white",
    "figure.dpi": 100,  # a figure's size on the page: 100 px per inch, until it fills the column
    "font.size": 10,  # tick labels, legends and axis labels
    "axes.titlesize": 11,
    "image.cmap": "gray",
    "animation.embed_limit": 20,  # MB of animation a chapter may embed
}


def use_book_style() -> None:
    """Apply the book's figure style (white backgrounds, grey images) to matplotlib.

    In Jupyter it also draws inline figures at twice ``figure.dpi`` and shows them at the same
    size ("retina"), so that a reader who zooms in, on a phone say, sees sharp labels.
    """
    mpl.rcParams.update(BOOK_STYLE)
    _inline_figures_at_double_resolution()


def _inline_figures_at_double_resolution() -> None:
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # not in Jupyter: nothing is drawn inline
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def show_images(images, titles=None, ncols: int = 8, size: float = 1.4, cmap="gray", fig=None):
    """A grid of images. images : (n, H, W), (n, H, W, 3 or 4), or (n, 1, H, W) as the layers
    take them -> the matplotlib figure. ``titles``: one per image, or None. Raises ValueError for no
    image, another shape, a number of titles that differs from the number of images, or
    ``ncols`` below 1."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1 and images.shape[-1] not in (3, 4):
        images = images[:, 0]  # (n, 1, H, W): one grey channel, NCHW; (n, 1, W, 3) is colour
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (3, 4)):
        raise ValueError(
            f"show_images: expected images of shape (n, H, W), (n, H, W, 3 or 4) or (n, 1, H, W), "
            f"got {images.shape}"
        )
    n = len(images)
    if n == 0:
        raise ValueError("show_images: expected at least one image, got none")
    if titles is not None and len(titles) != n:
        raise ValueError(f"show_images: expected {n} titles, one per image, got {len(titles)}")
    ncols = as_int(ncols, "ncols", "show_images")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    if fig is None:
        fig = plt.figure(figsize=(size * ncols, size * nrows + (0.3 * nrows if titles else 0)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap=cmap)
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=SMALL_FONT_PT)
    fig.tight_layout()
    return fig


def show_matrix(ax, values, title=None, fmt="{:g}", cmap="Blues", highlight=None):
    """Draw a small 2-D array as a grid of numbered cells; ``highlight`` = (row, col, h, w).
    Raises ValueError unless ``values`` is 2-D with at least one number."""
    values = np.asarray(values)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"show_matrix: expected a non-empty 2-D array, got shape {values.shape}")
    image = ax.imshow(values, cmap=cmap, vmin=min(values.min(), 0), vmax=max(values.max(), 1))
    for (i, j), v in np.ndenumerate(values):
        # White numbers on dark cells, black on light ones, so every number stays readable.
        r, g, b, _ = image.cmap(image.norm(v))
        dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
        ax.text(
            j,
            i,
            fmt.format(v),
            ha="center",
            va="center",
            fontsize=SMALL_FONT_PT,
            color="white" if dark else "black",
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if highlight is not None:
        r, c, h, w = highlight
        ax.add_patch(
            plt.Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor="crimson", linewidth=2.5)
        )
    if title:
        ax.set_title(title)
    return ax


def sliding_window_animation(
    x: np.ndarray, kernel_size: int, stride: int = 1, interval: int = 400, title: str = ""
):
    """Animate a kh x kw window sliding over a 2-D input with a given stride.

    x : (H, W). Returns a matplotlib FuncAnimation whose figure is already closed, ready for
    ``HTML(anim.to_jshtml())``. Raises ValueError unless x is 2-D, 1 <= kernel_size <= H and W,
    and stride >= 1.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"sliding_window_animation: expected x of shape (H, W), got {x.shape}")
    H, W = x.shape
    k = as_int(kernel_size, "kernel_size", "sliding_window_animation")
    stride = as_int(stride, "stride", "sliding_window_animation")
    if k > min(H, W):
        raise ValueError(
            f"sliding_window_animation: a {k}x{k} window does not fit in the {H}x{W} input"
        )
    H_out, W_out = (H - k) // stride + 1, (W - k) // stride + 1
    out = np.full((H_out, W_out), np.nan)
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(7, 3.4))
    fig.suptitle(title)
    show_matrix(ax_in, x, title=f"input {H}x{W}")
    rect = plt.Rectangle((-0.5, -0.5), k, k, fill=False, edgecolor="crimson", linewidth=3)
    ax_in.add_patch(rect)
    im = ax_out.imshow(out, cmap="Oranges", vmin=0, vmax=1)
    ax_out.set_title(f"output {H_out}x{W_out}")
    ax_out.set_xticks([])
    ax_out.set_yticks([])
    marker = plt.Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="crimson", linewidth=3)
    ax_out.add_patch(marker)

    def draw(frame):
        i, j = divmod(frame, W_out)
        rect.set_xy((j * stride - 0.5, i * stride - 0.5))
        marker.set_xy((j - 0.5, i - 0.5))
        out[i, j] = 1.0
        im.set_data(out)
        return rect, marker, im

    anim = animation.FuncAnimation(fig, draw, frames=H_out * W_out, interval=interval, blit=False)
    plt.close(fig)  # the animation embeds its own frames; no stray static figure
    return anim
