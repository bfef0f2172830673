"""cnn_lib.viz: the figure helpers draw the numbers they are given, of any real dtype."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnn_lib import viz  # noqa: E402


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
