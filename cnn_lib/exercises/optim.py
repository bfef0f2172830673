"""Checkers for the training chapter: one step of SGD with momentum and one step of Adam.

Both follow PyTorch's documented algorithms exactly, without weight decay:
SGD https://pytorch.org/docs/stable/generated/torch.optim.SGD.html (dampening 0, no Nesterov),
Adam https://pytorch.org/docs/stable/generated/torch.optim.Adam.html (amsgrad off).
"""

from __future__ import annotations

import numpy as np

from ._runner import Case, Exercise, Mistake

# --------------------------------------------------------------------------------------------
# sgd_momentum_step


def sgd_momentum_step_reference(w, dw, v, lr, momentum):
    """PyTorch's SGD with momentum: v = momentum * v + dw, then w = w - lr * v.

    PyTorch starts its buffer at the first gradient, v = dw; starting from v = 0 gives the same.
    """
    v = momentum * v + dw
    return w - lr * v, v


def _sgd_cases():
    rng = np.random.default_rng(500)
    normal = rng.standard_normal
    return [
        Case("first step (v = 0)", (normal((3, 4)), normal((3, 4)), np.zeros((3, 4)), 0.1, 0.9)),
        Case(
            "a later step (v from earlier steps)",
            (normal((3, 4)), normal((3, 4)), normal((3, 4)), 0.1, 0.9),
        ),
        Case("momentum 0 (plain SGD)", (normal(5), normal(5), normal(5), 0.05, 0.0)),
        Case(
            "conv weights (2, 3, 3, 3), lr 0.01, momentum 0.5",
            (normal((2, 3, 3, 3)), normal((2, 3, 3, 3)), normal((2, 3, 3, 3)), 0.01, 0.5),
        ),
    ]


SGD_MOMENTUM_STEP = Exercise(
    name="sgd_momentum_step",
    params="w, dw, v, lr, momentum",
    returns="(w, v)",
    doc="""\
One step of stochastic gradient descent with momentum, exactly as PyTorch's torch.optim.SGD
(dampening 0, no Nesterov, no weight decay): v_new = momentum * v + dw, then
w_new = w - lr * v_new. w, dw, v : arrays of one shape (v is the velocity from the previous
step, zeros before the first), lr and momentum floats. Returns (w_new, v_new) as new arrays;
leave w, dw and v unchanged.""",
    outputs=(("w", "array"), ("v", "array")),
    cases=_sgd_cases,
    reference=sgd_momentum_step_reference,
    mistakes=(
        Mistake(
            "lr belongs outside v: PyTorch's v = momentum * v + dw and w = w - lr * v (the form "
            "v = momentum * v - lr * dw, w = w + v keeps lr inside v)",
            variant=lambda w, dw, v, lr, mu: (w + (mu * v - lr * dw), mu * v - lr * dw),
        ),
        Mistake(
            "lr belongs outside v: PyTorch's v = momentum * v + dw, then w = w - lr * v",
            variant=lambda w, dw, v, lr, mu: (w - (mu * v + lr * dw), mu * v + lr * dw),
        ),
        Mistake(
            "v is a running average here: PyTorch's v = momentum * v + dw has no (1 - momentum) "
            "factor (dampening is 0)",
            variant=lambda w, dw, v, lr, mu: (
                w - lr * (mu * v + (1 - mu) * dw),
                mu * v + (1 - mu) * dw,
            ),
        ),
        Mistake(
            "w moved by the old v: update v first, then w = w - lr * v with the new v",
            variant=lambda w, dw, v, lr, mu: (w - lr * v, mu * v + dw),
        ),
        Mistake(
            "that is Nesterov momentum, w = w - lr * (dw + momentum * v); plain momentum "
            "steps by v itself",
            variant=lambda w, dw, v, lr, mu: (w - lr * (dw + mu * (mu * v + dw)), mu * v + dw),
        ),
        Mistake(
            "w moves against the gradient: w = w - lr * v",
            variant=lambda w, dw, v, lr, mu: (w + lr * (mu * v + dw), mu * v + dw),
        ),
    ),
)

# --------------------------------------------------------------------------------------------
# adam_step


def adam_step_reference(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """PyTorch's Adam: moments, bias correction with the step number (from 1), then the step."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _adam(
    w,
    dw,
    m,
    v,
    step,
    lr,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    *,
    corrected=True,
    step_shift=0,
    eps_inside=False,
    return_hats=False,
    square=True,
    paper_form=False,
    power_of_difference=False,
):
    """Adam with one known mistake switched on (for the hints)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * (dw**2 if square else dw)
    k = step + step_shift
    if paper_form:  # Kingma and Ba's faster form: eps added to the uncorrected sqrt(v)
        lr_t = lr * np.sqrt(1 - beta2**k) / (1 - beta1**k)
        return w - lr_t * m / (np.sqrt(v) + eps), m, v
    if power_of_difference:
        m_hat, v_hat = m / (1 - beta1) ** k, v / (1 - beta2) ** k
    else:
        m_hat = m / (1 - beta1**k) if corrected else m
        v_hat = v / (1 - beta2**k) if corrected else v
    denominator = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
    w = w - lr * m_hat / denominator
    return (w, m_hat, v_hat) if return_hats else (w, m, v)


def _adam_cases():
    rng = np.random.default_rng(510)

    def state(shape, scale=1.0):
        """w, dw, m, v as after a few steps: v >= 0 and of the size of dw ** 2."""
        return (
            0.1 * rng.standard_normal(shape),
            scale * rng.standard_normal(shape),
            0.1 * scale * rng.standard_normal(shape),
            0.5 * scale**2 * rng.random(shape),
        )

    w, dw = 0.1 * rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    return [
        Case(
            "first step (step = 1, m = v = 0), default betas and eps",
            (w, dw, np.zeros((3, 4)), np.zeros((3, 4)), 1, 1e-3),  # m, v: two arrays
        ),
        Case("step 10, moments from earlier steps", (*state((3, 4)), 10, 1e-2, 0.9, 0.999, 1e-8)),
        Case(
            "small gradients (dw about 1e-8): where eps matters",
            (*state((2, 5), 1e-8), 3, 1e-3, 0.9, 0.999, 1e-8),
        ),
        Case(
            "beta1 = 0.8, beta2 = 0.99, eps = 1e-6 with gradients about 1e-6",
            (*state(6, 1e-6), 4, 1e-2, 0.8, 0.99, 1e-6),
        ),
        Case(
            "step 1000, conv weights (2, 3, 3, 3)",
            (*state((2, 3, 3, 3)), 1000, 1e-3, 0.9, 0.999, 1e-8),
        ),
    ]


def _swapped_betas(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step_reference(w, dw, m, v, step, lr, beta2, beta1, eps)


def _fixed_eps(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step_reference(w, dw, m, v, step, lr, beta1, beta2, 1e-8)


def _default_settings(w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step_reference(w, dw, m, v, step, lr)


ADAM_STEP = Exercise(
    name="adam_step",
    params="w, dw, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8",
    returns="(w, m, v)",
    doc="""\
One step of Adam, exactly as PyTorch's torch.optim.Adam (no weight decay, no amsgrad).
w, dw, m, v : arrays of one shape (m and v are the moment estimates from the previous step,
zeros before the first); step : the number of this step, counting from 1 (t in PyTorch's
documentation); lr, beta1, beta2, eps : floats. Then m_new = beta1 * m + (1 - beta1) * dw,
v_new = beta2 * v + (1 - beta2) * dw**2, m_hat = m_new / (1 - beta1**step),
v_hat = v_new / (1 - beta2**step) and w_new = w - lr * m_hat / (sqrt(v_hat) + eps).
Returns (w_new, m_new, v_new) as new arrays; leave the arguments unchanged.""",
    outputs=(("w", "array"), ("m", "array"), ("v", "array")),
    cases=_adam_cases,
    reference=adam_step_reference,
    mistakes=(
        Mistake(
            "bias correction uses the wrong step: step counts from 1, so the first step divides "
            "by 1 - beta1**1 (with step - 1 it divides by 0)",
            variant=lambda *a: _adam(*a, step_shift=-1),
        ),
        Mistake(
            "bias correction uses the wrong step: step is the number of this step (from 1), "
            "not the next one",
            variant=lambda *a: _adam(*a, step_shift=1),
        ),
        Mistake(
            "the bias correction divides by 1 - beta1**step (beta1 to the power step, taken "
            "from 1), not by (1 - beta1)**step",
            variant=lambda *a: _adam(*a, power_of_difference=True),
        ),
        Mistake(
            "that is the Adam paper's faster form, lr * sqrt(1 - beta2**step) / "
            "(1 - beta1**step) with eps added to the uncorrected sqrt(v); PyTorch adds eps to "
            "sqrt(v_hat): w - lr * m_hat / (sqrt(v_hat) + eps) (they differ when gradients are "
            "small)",
            variant=lambda *a: _adam(*a, paper_form=True),
        ),
        Mistake(
            "there is no bias correction: m_hat = m / (1 - beta1**step) and "
            "v_hat = v / (1 - beta2**step); without it the first steps have the wrong size (with "
            "the default betas the first is about 3.2 times too large)",
            variant=lambda *a: _adam(*a, corrected=False),
        ),
        Mistake(
            "eps goes outside the square root: sqrt(v_hat) + eps (it matters when gradients "
            "are small)",
            variant=lambda *a: _adam(*a, eps_inside=True),
        ),
        Mistake(
            "return the moments m and v themselves, not their bias-corrected m_hat and v_hat: "
            "the correction is redone at every step",
            variant=lambda *a: _adam(*a, return_hats=True),
        ),
        Mistake(
            "v averages the squared gradient, dw**2",
            variant=lambda *a: _adam(*a, square=False),
        ),
        Mistake(
            "beta1 and beta2 swapped: beta1 goes with m (the gradient), beta2 with v (its square)",
            variant=_swapped_betas,
        ),
        Mistake(
            "beta1, beta2 and eps are the defaults here, not the arguments given",
            variant=_default_settings,
        ),
        Mistake(
            "eps is 1e-8 here, not the argument eps",
            variant=_fixed_eps,
        ),
    ),
)

EXERCISES = {e.name: e for e in (SGD_MOMENTUM_STEP, ADAM_STEP)}
