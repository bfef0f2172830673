"""cnn_lib.model: Sequential end to end (gradients, names, summary), saving and loading weights,
and the book's reference CNN."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from cnn_lib.gradcheck import numerical_gradient, relative_error
from cnn_lib.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from cnn_lib.losses import SoftmaxCrossEntropy
from cnn_lib.model import Sequential, WeightsFileError, reference_cnn

TOL = 1e-7


def small_cnn(rng, dtype=np.float64):
    """x : (N, 1, 6, 6) -> logits : (N, 3)."""
    return Sequential(
        [
            Conv2D(1, 2, 3, padding=1, rng=rng, dtype=dtype),
            ReLU(),
            MaxPool2D(2),
            Flatten(),
            Dropout(0.5, rng=rng),
            Dense(2 * 3 * 3, 5, rng=rng, dtype=dtype),
            ReLU(),
            Dense(5, 3, rng=rng, dtype=dtype),
        ]
    )


def snapshot(model):
    return {p.name: p.value.copy() for p in model.parameters()}


def assert_params_equal(model, expected):
    got = snapshot(model)
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def test_gradients_of_the_whole_network(rng):
    """Loss -> Sequential.backward gives dL/dx and dL/dw of every layer, as finite differences
    of the loss do."""
    model = small_cnn(rng)
    for p in model.parameters():
        if p.name.endswith(".b"):
            p.value[...] = rng.standard_normal(p.value.shape)  # non-zero biases too
    x = rng.standard_normal((4, 1, 6, 6))
    y = np.array([0, 2, 1, 2])
    loss = SoftmaxCrossEntropy()

    loss.forward(model.forward(x), y)
    dx = model.backward(loss.backward())

    def f():
        return loss.forward(model.forward(x), y)

    assert relative_error(dx, numerical_gradient(f, x)) < TOL
    for p in model.parameters():
        assert relative_error(p.grad, numerical_gradient(f, p.value)) < TOL, p.name


def test_forward_chains_the_layers(rng):
    model = small_cnn(rng)
    x = rng.standard_normal((2, 1, 6, 6))
    y = x
    for layer in model.layers:
        y = layer.forward(y)
    np.testing.assert_array_equal(model.forward(x), y)
    np.testing.assert_array_equal(model(x), y)


def test_training_switches_dropout_on(rng):
    model = small_cnn(rng)
    x = rng.standard_normal((8, 1, 6, 6))
    np.testing.assert_array_equal(model.forward(x), model.forward(x))
    assert not np.array_equal(model.forward(x, training=True), model.forward(x))


def test_parameters_are_named_by_layer_index(rng):
    model = small_cnn(rng)
    names = [p.name for p in model.parameters()]
    assert names == ["0.w", "0.b", "5.w", "5.b", "7.w", "7.b"]
    assert all(p.grad is None for p in model.parameters())  # no backward yet
    assert model.parameters()[0].value is model.layers[0].params["w"]  # the live array
    assert model.n_parameters() == (2 * 9 + 2) + (18 * 5 + 5) + (5 * 3 + 3)


def test_summary_lists_layers_shapes_and_counts(rng):
    text = small_cnn(rng).summary((1, 6, 6))
    lines = text.splitlines()
    assert "output shape" in lines[0] and "parameters" in lines[0]
    assert any("Conv2D(1, 2" in line and "(2, 6, 6)" in line and "20" in line for line in lines)
    assert any("MaxPool2D" in line and "(2, 3, 3)" in line for line in lines)
    assert any("Flatten()" in line and "(18,)" in line for line in lines)
    assert lines[-1] == "total parameters: 133"


def test_reference_cnn_shapes_and_size():
    model = reference_cnn(rng=np.random.default_rng(0))
    assert model.output_shapes((1, 28, 28))[-1] == (10,)
    assert model.output_shapes((1, 28, 28))[5] == (32, 7, 7)
    expected = (16 * 9 + 16) + (32 * 16 * 9 + 32) + (1568 * 128 + 128) + (128 * 10 + 10)
    assert model.n_parameters() == expected
    assert f"total parameters: {expected:,}" in model.summary((1, 28, 28))
    x = np.zeros((3, 1, 28, 28), dtype=np.float32)
    assert model.forward(x).shape == (3, 10)
    assert all(p.value.dtype == np.float32 for p in model.parameters())


@pytest.mark.parametrize("training", [False, True])
def test_reference_cnn_forward_and_backward_of_an_empty_batch(training):
    model = reference_cnn(rng=np.random.default_rng(0), input_grad=True)
    logits = model.forward(np.zeros((0, 1, 28, 28), np.float32), training=training)
    assert logits.shape == (0, 10) and logits.dtype == np.float32
    dx = model.backward(np.zeros((0, 10), np.float32))
    assert dx.shape == (0, 1, 28, 28)
    for p in model.parameters():
        np.testing.assert_array_equal(p.grad, np.zeros_like(p.value), err_msg=p.name)


def test_reference_cnn_skips_the_gradient_of_the_images(rng):
    x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    y = np.array([1, 4, 9])
    models = [reference_cnn(rng=np.random.default_rng(0), input_grad=g) for g in (False, True)]
    loss = SoftmaxCrossEntropy()
    dxs = []
    for model in models:
        model.layers[7].p = model.layers[10].p = 0.0  # no dropout: the same step for both
        loss.forward(model.forward(x, training=True), y)
        dxs.append(model.backward(loss.backward()))
    assert dxs[0] is None and dxs[1].shape == x.shape
    for p, q in zip(models[0].parameters(), models[1].parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=p.name)


def test_only_the_first_layer_may_skip_its_input_gradient(rng):
    model = Sequential([ReLU(), Conv2D(1, 2, 3, rng=rng, dtype=np.float64, input_grad=False)])
    x = rng.standard_normal((2, 1, 5, 5))
    model.forward(x)
    message = r"layer 1 \(Conv2D\(1, 2.*the layers before it would get none"
    with pytest.raises(RuntimeError, match=message):
        model.backward(np.ones((2, 2, 3, 3)))


def test_reference_cnn_is_fixed_by_its_seed():
    a = reference_cnn(rng=np.random.default_rng(7))
    b = reference_cnn(rng=np.random.default_rng(7))
    assert_params_equal(b, snapshot(a))


def test_save_and_load_round_trip(rng, tmp_path):
    a, b = small_cnn(rng), small_cnn(rng)
    path = tmp_path / "weights.npz"
    a.save(path)
    b.load(path)
    assert_params_equal(b, snapshot(a))
    x = rng.standard_normal((2, 1, 6, 6))
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    assert sorted(np.load(path, allow_pickle=False).files) == sorted(snapshot(a))


def test_save_keeps_the_exact_name(rng, tmp_path):
    small_cnn(rng).save(tmp_path / "weights")
    assert os.listdir(tmp_path) == ["weights"]  # no ".npz" appended, no temporary file left


def save_other(tmp_path, arrays):
    path = tmp_path / "other.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda w: w.pop("7.b"), r"missing \['7.b'\], unexpected none"),
        (lambda w: w.update({"8.w": np.zeros(3)}), r"missing none, unexpected \['8.w'\]"),
        # the last parameter is the wrong one: nothing before it may have been copied
        (lambda w: w.update({"7.b": np.zeros(4)}), r"'7.b' expected shape \(3,\), got \(4,\)"),
        (lambda w: w.update({"0.w": np.zeros((2, 1, 3, 3), np.float32)}), r"dtype float64"),
    ],
)
def test_load_of_mismatched_weights_changes_nothing(rng, tmp_path, change, message):
    model = small_cnn(rng)
    before = snapshot(model)
    weights = {name: value + 1.0 for name, value in before.items()}
    change(weights)
    with pytest.raises(ValueError, match=message):
        model.load(save_other(tmp_path, weights))
    assert_params_equal(model, before)


def test_load_of_weights_from_another_architecture(rng, tmp_path):
    path = tmp_path / "reference.npz"
    reference_cnn(rng=rng).save(path)
    model = small_cnn(rng)
    before = snapshot(model)
    with pytest.raises(ValueError, match="do not match this model"):
        model.load(path)
    assert_params_equal(model, before)


def _pickle(path):
    with open(path, "wb") as f:
        pickle.dump({"0.w": np.zeros((2, 1, 3, 3))}, f)


def _npz_with_an_object_array(path):
    np.savez(path, **{"0.w": np.array([1, "two", None], dtype=object)})


def _truncated_npz(path, weights):
    np.savez(path, **weights)
    path.write_bytes(path.read_bytes()[:-100])


def _npz_with_corrupt_data(path, weights):
    np.savez_compressed(path, **weights)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3 : len(raw) // 3 + 40] = bytes(40)
    path.write_bytes(bytes(raw))


def _npz_with_a_short_array(path, weights):
    """A well-formed zip whose entry "0.w.npy" promises 18 numbers and holds 2."""
    header = io.BytesIO()
    np.lib.format.write_array(header, weights["0.w"])
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("0.w.npy", header.getvalue()[:-128])


def _npy(path):
    with open(path, "wb") as f:  # np.save(path, ...) would append ".npy" to the name
        np.save(f, np.zeros(3))


def _zip_of_text(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not an array")


# Files that are not weights saved by Sequential.save, and words their error must hold.
NOT_OUR_FILES = [
    pytest.param(_pickle, "a pickle file; cnn_lib never unpickles", id="pickle"),
    pytest.param(_npz_with_an_object_array, "entry '0.w.npy' holds Python objects", id="object"),
    pytest.param(_truncated_npz, "a damaged or truncated zip archive", id="truncated"),
    pytest.param(_npz_with_corrupt_data, "a damaged or truncated zip archive", id="corrupt"),
    pytest.param(_npz_with_a_short_array, "entry '0.w.npy' is damaged", id="short-array"),
    pytest.param(_zip_of_text, "entry 'readme.txt' is not a NumPy array", id="zip-of-text"),
    pytest.param(lambda path: path.write_bytes(b""), "the file is empty", id="empty"),
    pytest.param(lambda path: path.mkdir(), "it is a directory", id="directory"),
    pytest.param(lambda path: path.write_text("0.w = 1.0\n"), "first bytes are 30 2e", id="text"),
    pytest.param(_npy, "a single array (.npy", id="npy"),
]


@pytest.mark.parametrize("make, words", NOT_OUR_FILES)
def test_load_of_a_file_that_is_not_ours_names_it_and_changes_nothing(make, words, rng, tmp_path):
    model = small_cnn(rng)
    before = snapshot(model)
    path = tmp_path / "weights.npz"
    if make.__code__.co_argcount == 2:
        make(path, {name: value + 1.0 for name, value in before.items()})
    else:
        make(path)
    with pytest.raises(WeightsFileError) as error:
        model.load(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and words in message
    assert "expected" in message.lower() and "allow_pickle" not in message
    assert_params_equal(model, before)


def test_load_of_a_missing_file(rng, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        small_cnn(rng).load(tmp_path / "missing.npz")


def test_load_takes_compressed_and_big_endian_archives(rng, tmp_path):
    a, b = small_cnn(rng), small_cnn(rng)
    weights = snapshot(a)
    path = tmp_path / "other.npz"
    np.savez_compressed(
        path, **{k: v.astype(v.dtype.newbyteorder(">")) for k, v in weights.items()}
    )
    b.load(path)
    assert_params_equal(b, weights)
    assert all(p.value.dtype.isnative for p in b.parameters())


def test_a_failed_save_leaves_the_old_file(rng, tmp_path, monkeypatch):
    path = tmp_path / "weights.npz"
    model = small_cnn(rng)
    model.save(path)
    old = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        small_cnn(rng).save(path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["weights.npz"]


def test_bad_layer_lists_are_rejected():
    with pytest.raises(ValueError, match="at least one layer"):
        Sequential([])
    with pytest.raises(TypeError, match="layer 1 must be a Layer"):
        Sequential([ReLU(), "relu"])


def test_a_layer_object_at_two_positions_is_refused(rng):
    # Each layer keeps only its last forward pass's cache: reused, the first position's backward
    # would use the second position's input (a ReLU's mask, a Dropout's mask, a Dense's x).
    relu = ReLU()
    with pytest.raises(ValueError, match="layers 1 and 3 are one and the same ReLU"):
        Sequential([Dense(4, 5, rng=rng), relu, Dense(5, 5, rng=rng), relu])
    dense = Dense(5, 5, rng=rng)
    with pytest.raises(ValueError, match=r"Dense\(...\) again"):
        Sequential([dense, ReLU(), dense])
    Sequential([ReLU(), ReLU()])  # two objects of one kind are fine


def test_load_refuses_an_archive_that_holds_a_name_twice(rng, tmp_path):
    model = small_cnn(rng)
    path = tmp_path / "twice.npz"
    model.save(path)
    before = snapshot(model)
    with zipfile.ZipFile(path, "a") as archive:  # "0.w" besides the "0.w.npy" savez wrote
        archive.writestr("0.w", archive.read("0.w.npy"))
    with pytest.raises(WeightsFileError, match=r"holds \['0.w'\] more than once"):
        model.load(path)
    assert_params_equal(model, before)


def test_save_refuses_a_path_that_cannot_hold_the_file(rng, tmp_path):
    model = small_cnn(rng)
    with pytest.raises(ValueError, match="Sequential.save: expected the path of a file"):
        model.save("")
    with pytest.raises(FileNotFoundError, match="Sequential.save: cannot write"):
        model.save(tmp_path / "missing" / "w.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "input_shape, message",
    [
        ((3, 32, 32), r"Conv2D: expected input of shape \(N, 1, H, W\), got \(1, 3, 32, 32\)"),
        ((1, 2, 2), "MaxPool2D: input of 1x1 is smaller than the 2x2 window"),
        ((28, 28), r"Conv2D: expected input of shape \(N, 1, H, W\), got \(1, 28, 28\)"),
        ((1, 32, 32), r"Dense: expected input of shape \(N, 1568\), got \(1, 2048\)"),
    ],
)
def test_summary_refuses_what_forward_refuses(input_shape, message):
    # Not a table of shapes that no forward pass could produce.
    with pytest.raises(ValueError, match=message):
        reference_cnn().summary(input_shape)


def test_output_shape_refuses_a_kernel_larger_than_the_padded_input():
    with pytest.raises(ValueError, match="padded input is 3x3, smaller than the 5x5 kernel"):
        Conv2D(1, 1, 5).output_shape((1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"Flatten: expected input of shape \(N, ...\)"):
        Flatten().output_shape((5,))
