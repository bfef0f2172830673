"""cnn_lib.model: Sequential end to end (gradients, names, summary), saving and loading weights,
and the book's reference CNN."""

import os

import numpy as np
import pytest

from cnn_lib.gradcheck import numerical_gradient, relative_error
from cnn_lib.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU
from cnn_lib.losses import SoftmaxCrossEntropy
from cnn_lib.model import Sequential, reference_cnn

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
    """Loss -> Sequential.backward gives dL/dx and dL/dW of every layer, as finite differences
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
    assert names == ["0.W", "0.b", "5.W", "5.b", "7.W", "7.b"]
    assert all(p.grad is None for p in model.parameters())  # no backward yet
    assert model.parameters()[0].value is model.layers[0].params["W"]  # the live array
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
        (lambda w: w.update({"8.W": np.zeros(3)}), r"missing none, unexpected \['8.W'\]"),
        # the last parameter is the wrong one: nothing before it may have been copied
        (lambda w: w.update({"7.b": np.zeros(4)}), r"'7.b' expected shape \(3,\), got \(4,\)"),
        (lambda w: w.update({"0.W": np.zeros((2, 1, 3, 3), np.float32)}), r"dtype float64"),
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


def test_load_of_a_single_array_is_rejected(rng, tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="expected an .npz archive"):
        small_cnn(rng).load(path)


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
