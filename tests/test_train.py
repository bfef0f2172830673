"""cnn_lib.train: fit learns a task that a CNN must learn, is fixed by its seed, sees each example
once per epoch; evaluate and predict agree with one big batch; the terminal entry point runs."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from cnn_lib.data import write_idx
from cnn_lib.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU
from cnn_lib.losses import SoftmaxCrossEntropy
from cnn_lib.model import Sequential, reference_cnn
from cnn_lib.optim import SGD, Adam
from cnn_lib.train import evaluate, fit, main, predict


def bars(n, rng, size=8):
    """Images (n, 1, size, size) of noise with one bright bar, horizontal (label 0) or vertical
    (label 1), at a random row or column: telling them apart needs the bar's orientation, not
    its position, which is what a convolution sees."""
    x = rng.uniform(0.0, 0.3, size=(n, 1, size, size)).astype(np.float32)
    y = rng.integers(0, 2, size=n)
    where = rng.integers(1, size - 1, size=n)
    for i in range(n):
        if y[i] == 0:
            x[i, 0, where[i], 1:-1] = 1.0
        else:
            x[i, 0, 1:-1, where[i]] = 1.0
    return x, y


def bar_model(seed):
    rng = np.random.default_rng(seed)
    return Sequential(
        [
            Conv2D(1, 4, 3, padding=1, rng=rng),
            ReLU(),
            MaxPool2D(2),
            Flatten(),
            Dense(4 * 4 * 4, 2, rng=rng),
        ]
    )


def weights(model):
    return {p.name: p.value.copy() for p in model.parameters()}


def test_fit_learns_bars_in_a_few_epochs(rng):
    x, y = bars(300, rng)
    x_val, y_val = bars(200, rng)
    model = bar_model(0)
    history = fit(
        model,
        SoftmaxCrossEntropy(),
        Adam(lr=0.01),
        x,
        y,
        epochs=6,
        batch_size=20,
        validation=(x_val, y_val),
        rng=np.random.default_rng(1),
        progress=False,
    )
    assert set(history) == {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"}
    assert all(len(values) == 6 for values in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_acc"][-1] >= 0.95
    x_test, y_test = bars(200, rng)
    test_loss, test_acc = evaluate(model, x_test, y_test)
    assert test_acc >= 0.95 and test_loss < 0.3


def train_once(order_seed, x, y, epochs=2, threads=None):
    model = reference_cnn(rng=np.random.default_rng(0), dropout=0.5)
    history = fit(
        model,
        SoftmaxCrossEntropy(),
        Adam(lr=1e-3),
        x,
        y,
        epochs=epochs,
        batch_size=16,
        rng=np.random.default_rng(order_seed),
        progress=False,
        threads=threads,
    )
    return weights(model), history


def test_the_same_seeds_give_the_same_weights(rng):
    x = rng.random((48, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, size=48)
    w1, h1 = train_once(5, x, y)
    w2, h2 = train_once(5, x, y)
    for name in w1:
        np.testing.assert_array_equal(w1[name], w2[name], err_msg=name)
    assert h1["train_loss"] == h2["train_loss"]
    w3, _ = train_once(6, x, y)  # another order of the batches, other weights
    assert not np.array_equal(w1["0.w"], w3["0.w"])


def test_the_number_of_threads_changes_no_bit_of_the_result(rng):
    x = rng.random((45, 1, 28, 28), dtype=np.float32)  # a last batch of 13: uneven parts
    y = rng.integers(0, 10, size=45)
    w1, h1 = train_once(5, x, y, threads=1)
    for threads in (2, 3):
        w, h = train_once(5, x, y, threads=threads)
        for name in w1:
            np.testing.assert_array_equal(w[name], w1[name], err_msg=name)
        assert h["train_loss"] == h1["train_loss"]


class Spy:
    """A model that records the batches it sees and learns nothing."""

    def __init__(self, K=3):
        self.K, self.seen = K, []

    def forward(self, x, training=False):
        self.seen.append(x.copy())
        return np.zeros((x.shape[0], self.K))

    def backward(self, dy):
        return None

    def parameters(self):
        return []


def test_each_epoch_visits_every_example_once_in_a_new_order():
    x = np.arange(10, dtype=np.float64).reshape(10, 1)
    y = np.zeros(10, dtype=np.int64)
    spy = Spy()
    fit(spy, SoftmaxCrossEntropy(), SGD(0.1), x, y, epochs=2, batch_size=4, progress=False)
    assert [len(b) for b in spy.seen] == [4, 4, 2, 4, 4, 2]  # the last batch is the rest
    first, second = np.concatenate(spy.seen[:3])[:, 0], np.concatenate(spy.seen[3:])[:, 0]
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)


def test_fit_leaves_its_inputs_alone(rng):
    x, y = bars(40, rng)
    x0, y0 = x.copy(), y.copy()
    fit(bar_model(0), SoftmaxCrossEntropy(), Adam(), x, y, 1, 8, validation=(x, y), progress=False)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


def test_zero_epochs_change_nothing(rng):
    x, y = bars(10, rng)
    model = bar_model(0)
    before = weights(model)
    history = fit(model, SoftmaxCrossEntropy(), Adam(), x, y, 0, 4, progress=False)
    assert history == {"train_loss": [], "train_acc": [], "lr": [], "seconds": []}
    for name, value in weights(model).items():
        np.testing.assert_array_equal(value, before[name])


def test_lr_schedule_sets_the_rate_of_each_epoch(rng):
    x, y = bars(10, rng)
    opt = Adam(lr=1.0)
    history = fit(
        bar_model(0),
        SoftmaxCrossEntropy(),
        opt,
        x,
        y,
        3,
        5,
        progress=False,
        lr_schedule=lambda epoch: 0.1 / (epoch + 1),
    )
    assert history["lr"] == [0.1, 0.05, 0.1 / 3]
    assert opt.lr == 0.1 / 3


def test_progress_bar_on_stderr_only_when_asked(rng, capsys):
    x, y = bars(10, rng)
    fit(bar_model(0), SoftmaxCrossEntropy(), Adam(), x, y, 2, 5, progress=False)
    assert capsys.readouterr().err == ""
    fit(bar_model(0), SoftmaxCrossEntropy(), Adam(), x, y, 2, 5, progress=True)
    captured = capsys.readouterr()
    assert "epoch 1/2" in captured.err and "epoch 2/2" in captured.err
    assert captured.out == ""


def test_notebook_progress_bar_leaves_its_last_line_as_text(rng, capsys, monkeypatch):
    notebook = pytest.importorskip("tqdm.notebook")  # the widget tqdm.auto picks in Jupyter
    monkeypatch.setattr("cnn_lib.train.tqdm", notebook.tqdm)
    x, y = bars(10, rng)
    fit(bar_model(0), SoftmaxCrossEntropy(), Adam(), x, y, 2, 5, validation=(x, y), progress=True)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if " img in " in ln]
    assert [ln.split(":")[0] for ln in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all(": 10/10 img in " in ln and "val_acc=" in ln for ln in lines), lines
    assert all(len(ln) <= 100 for ln in lines), lines  # fits the book's code box


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"y": np.zeros(9, np.int64)}, ValueError, r"x of shape \(10, 1, 8, 8\) and y of shape"),
        ({"y": np.zeros(10)}, ValueError, "integer labels of shape"),
        ({"x": [[0.0]] * 10}, TypeError, "as NumPy arrays"),
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1, got 0"),
        ({"batch_size": 2.0}, TypeError, "batch_size must be an int"),
        ({"epochs": -1}, ValueError, "epochs must be at least 0, got -1"),
        ({"threads": 0}, ValueError, "fit: threads must be at least 1, got 0"),
        ({"validation": np.zeros(3)}, TypeError, r"validation must be a pair \(x_val, y_val\)"),
        (
            {"validation": (np.zeros((4, 1, 8, 8), np.float32), np.zeros(3, np.int64))},
            ValueError,
            "fit: validation: x and y must hold the same number",
        ),
        (
            {"validation": (np.zeros((0, 1, 8, 8), np.float32), np.zeros(0, np.int64))},
            ValueError,
            "fit: validation holds no example",
        ),
        (
            {"validation": (np.zeros((4, 1, 8, 8)), np.zeros(4, np.int64))},
            TypeError,
            "fit: validation: Conv2D: parameters are float32 but the input is float64",
        ),
        (
            {"validation": (np.zeros((4, 1, 10, 10), np.float32), np.zeros(4, np.int64))},
            ValueError,
            r"fit: validation: Dense: expected input of shape \(N, 64\)",
        ),
        (
            {"validation": (np.zeros((4, 1, 8, 8), np.float32), np.array([0, 1, 2, 1]))},
            ValueError,
            r"fit: validation: labels must lie in 0..1 \(the model has 2 outputs\)",
        ),
        ({"rng": "seed"}, TypeError, r"rng must be a numpy.random.Generator \(or RandomState\)"),
        ({"rng": -1}, TypeError, r"or an int seed >= 0, got -1"),
        ({"loss": SoftmaxCrossEntropy}, TypeError, "fit: loss must have forward"),
        ({"loss": None}, TypeError, r"fit: loss must have forward\(\) and backward\(\)"),
        ({"optimizer": SoftmaxCrossEntropy()}, TypeError, r"fit: optimizer must have step\(\)"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, message, rng):
    # Before the first epoch: the model's weights are unchanged.
    x, y = bars(10, rng)
    args = {"x": x, "y": y, "epochs": 1, "batch_size": 4, "loss": SoftmaxCrossEntropy()}
    args = {**args, "optimizer": Adam(), **kwargs}
    model = bar_model(0)
    before = weights(model)
    with pytest.raises(error, match=message):
        fit(model, progress=False, **args)
    for name, value in weights(model).items():
        np.testing.assert_array_equal(value, before[name])


def test_fit_takes_an_int_seed_as_its_rng(rng):
    x, y = bars(10, rng)
    runs = []
    for order in (5, np.random.default_rng(5)):  # the seed and its Generator: the same run
        model = bar_model(0)
        fit(model, SoftmaxCrossEntropy(), Adam(), x, y, 2, 4, rng=order, progress=False)
        runs.append(weights(model))
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])


def test_fit_warns_once_when_the_training_loss_is_not_finite(rng):
    x, y = bars(10, rng)
    x[3] = np.nan  # one bad image: every later step's weights turn nan too
    with pytest.warns(RuntimeWarning, match="training loss of epoch 1 is nan") as caught:
        history = fit(bar_model(0), SoftmaxCrossEntropy(), Adam(), x, y, 3, 4, progress=False)
    assert len([w for w in caught if "training loss" in str(w.message)]) == 1
    assert np.isnan(history["train_loss"]).all()


def test_predict_and_evaluate_in_batches_match_one_big_batch(rng):
    x, y = bars(23, rng)
    model = bar_model(3)
    logits = model.forward(x)
    np.testing.assert_allclose(predict(model, x, batch_size=5), logits, rtol=1e-5, atol=1e-6)
    loss, acc = evaluate(model, x, y, batch_size=5)
    assert loss == pytest.approx(SoftmaxCrossEntropy().forward(logits, y), rel=1e-5)
    assert acc == pytest.approx(np.mean(logits.argmax(axis=1) == y))


def test_predict_never_sends_more_than_a_batch():
    spy = Spy()
    out = predict(spy, np.zeros((11, 2)), batch_size=4)
    assert out.shape == (11, 3)
    assert [len(b) for b in spy.seen] == [4, 4, 3]
    evaluate(spy, np.zeros((11, 2)), np.zeros(11, np.int64), batch_size=6)
    assert [len(b) for b in spy.seen[3:]] == [6, 5]


def test_predict_of_no_examples_is_the_models_empty_output():
    logits = predict(bar_model(0), np.zeros((0, 1, 8, 8), np.float32), batch_size=4)
    assert logits.shape == (0, 2) and logits.dtype == np.float32


def test_predict_and_evaluate_reject_bad_arguments():
    spy = Spy()
    with pytest.raises(ValueError, match="predict: expected x of shape .* got a 0-d array"):
        predict(spy, np.zeros(()))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        predict(spy, np.zeros((3, 2)), batch_size=0)
    with pytest.raises(ValueError, match="at least one example"):
        evaluate(spy, np.zeros((0, 2)), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="same number of examples"):
        evaluate(spy, np.zeros((3, 2)), np.zeros(2, np.int64))


# ------------------------------------------------------------------------------------------
# python -m cnn_lib.train
# ------------------------------------------------------------------------------------------


def tiny_dataset(directory, rng, n_train=120, n_test=40):
    """Four IDX files shaped like Fashion-MNIST's, with random pixels and labels."""
    directory.mkdir()
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    return directory


def test_the_entry_point_prints_its_results_as_json_last(tmp_path, rng):
    data_dir = tiny_dataset(tmp_path / "data", rng)
    saved = tmp_path / "weights.npz"
    command = [sys.executable, "-m", "cnn_lib.train", "--data-dir", str(data_dir)]
    command += ["--epochs", "1", "--batch-size", "32", "--val-size", "20", "--seed", "3"]
    command += ["--save", str(saved), "--lr", "0.002", "--threads", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("dataset", "epochs", "test_accuracy", "test_loss", "seconds", "parameters"):
        assert key in results
    assert results["dataset"] == "fashion-mnist" and results["epochs"] == 1
    assert results["threads"] == 2
    assert results["train_examples"] == 100 and results["val_examples"] == 20
    assert 0.0 <= results["test_accuracy"] <= 1.0 and results["val_accuracy"] is not None
    assert results["images_per_second"] > 0 and results["peak_memory_mb"] > 0
    assert results["parameters"] == reference_cnn().n_parameters()
    assert "epoch 1/1" in done.stderr  # the progress bar went to stderr
    reference_cnn().load(saved)  # the saved weights fit the reference model


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch-size", "0"], "--batch-size >= 1"),
        (["--epochs", "-1"], "--epochs >= 0"),
        (["--dropout", "1.0"], "--dropout in [0, 1)"),
        (["--dataset", "cifar"], "invalid choice: 'cifar'"),
        (["--threads", "0"], "expected --threads >= 1, got 0"),
        (["--lr", "nan"], "--lr a finite number > 0"),
        (["--lr", "inf"], "--lr a finite number > 0"),
        (["--seed", "-1"], "expected --seed >= 0, got -1"),
        (["--final-lr-fraction", "0"], "--final-lr-fraction in (0, 1]"),
        (["--lr", "5e-324"], "rounds to 0, a rate the optimizer does not take"),
        (["--save", ""], "--save: expected the path of a file to write"),
        (["--save", "/no-such-dir/w.npz"], "--save: cannot write /no-such-dir/w.npz"),
        (["--save", "/tmp"], "--save: /tmp is a directory"),
    ],
)
def test_the_entry_point_rejects_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_entry_point_help_explains_the_threads(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--threads THREADS each batch is split into this many parts" in text
    assert "(BLAS) stays on one thread" in text


def test_the_entry_point_explains_a_missing_dataset(tmp_path, monkeypatch):
    from cnn_lib import data

    monkeypatch.setattr(data, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.delenv("CNN_LIB_DATA", raising=False)
    monkeypatch.setenv("CNN_LIB_MNIST_URL", "http://127.0.0.1:1/")  # nothing listens there
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataset", "mnist", "--no-progress"])
    message = str(exit_info.value.code)
    assert message.startswith("python -m cnn_lib.train: MNIST (train split) was not found")
    assert "download from http://127.0.0.1:1/: failed" in message


def test_the_entry_point_refuses_a_data_dir_without_the_dataset(tmp_path):
    # Not a quiet switch to the dataset found elsewhere (the Debian package's, say).
    for data_dir in (tmp_path, tmp_path / "no-such-dir"):
        with pytest.raises(SystemExit) as exit_info:
            main(["--data-dir", str(data_dir), "--no-progress"])
        message = str(exit_info.value.code)
        assert message.startswith(
            f"python -m cnn_lib.train: Fashion-MNIST (train split): data_dir {data_dir}"
        )


def test_fit_evaluate_and_predict_refuse_integer_images(rng):
    """Raw uint8 images (to_float not called): the model's first layer refuses them, before
    any step, so the model is unchanged."""
    x, y = bars(8, rng)
    images = (x * 255).astype(np.uint8)
    model = bar_model(0)
    before = weights(model)
    message = "Conv2D: expected a floating point input (float32 or float64), got dtype uint8"
    with pytest.raises(TypeError, match=re.escape(message)):
        fit(model, SoftmaxCrossEntropy(), Adam(), images, y, epochs=1, batch_size=4, progress=False)
    with pytest.raises(TypeError, match=re.escape(message)):
        evaluate(model, images, y)
    with pytest.raises(TypeError, match=re.escape(message)):
        predict(model, images)
    after = weights(model)
    assert all(np.array_equal(after[name], before[name]) for name in before)


def test_the_entry_point_reports_a_diverged_run_as_null_and_fails(tmp_path, rng, capsys):
    data_dir = tiny_dataset(tmp_path / "data", rng)
    argv = ["--data-dir", str(data_dir), "--epochs", "1", "--lr", "1e30", "--no-progress"]
    with pytest.warns(RuntimeWarning, match="the training diverged"):
        with pytest.raises(SystemExit) as exit_info:
            main(argv + ["--threads", "1"])
    assert "not finite (null above): the training diverged" in str(exit_info.value.code)
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # strict JSON
    assert results["train_loss"] is None and results["test_loss"] is None


def test_fit_still_takes_a_random_state_as_its_rng(rng):
    x, y = bars(10, rng)
    history = fit(
        bar_model(0),
        SoftmaxCrossEntropy(),
        Adam(),
        x,
        y,
        1,
        4,
        rng=np.random.RandomState(0),
        progress=False,
    )
    assert np.isfinite(history["train_loss"]).all()


def test_the_entry_point_keeps_a_saved_file_when_the_run_diverges(tmp_path, rng, capsys):
    data_dir = tiny_dataset(tmp_path / "data", rng)
    saved = tmp_path / "good.npz"
    saved.write_bytes(b"the weights of an earlier, good run")
    argv = ["--data-dir", str(data_dir), "--epochs", "1", "--lr", "1e30", "--no-progress"]
    with pytest.warns(RuntimeWarning), pytest.raises(SystemExit) as exit_info:
        main(argv + ["--threads", "1", "--save", str(saved)])
    assert f"The weights were not saved to {saved}" in str(exit_info.value.code)
    assert saved.read_bytes() == b"the weights of an earlier, good run"
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["saved"] is None
