"""Data sets for training and the notebooks: the bundled digits, and toy 2-D sets."""
from importlib import resources

import numpy as np

from gates.base import hyperparameter


def load_digits(dtype=np.float64):
    """The 1,797 bundled 8x8 digits: x (1797, 64) scaled to [0, 1] in ``dtype``, y int64 (1797,)."""
    with resources.files(__package__).joinpath("digits.npz").open("rb") as f, np.load(f) as archive:
        images, labels = archive["images"], archive["labels"]
    x = (images.reshape(len(images), -1) / 16.0).astype(dtype)
    return x, labels.astype(np.int64)


def check_fractions(owner, fractions):
    """``fractions`` of (train, validation, test): three numbers in [0, 1] adding up to 1, train's > 0."""
    if not isinstance(fractions, (tuple, list)) or len(fractions) != 3:
        raise ValueError(f"{owner}: fractions must be three numbers (train, validation, test) adding up "
                         f"to 1, got {fractions!r}")
    fractions = tuple(hyperparameter(owner, "each fraction", f, low=0, high=1) for f in fractions)
    if not np.isclose(sum(fractions), 1.0) or fractions[0] == 0:
        raise ValueError(f"{owner}: fractions must add up to 1, with a training part > 0, got {fractions!r}")
    return fractions


def split_by_fractions(items, fractions):
    """``items`` cut in order into consecutive parts of the given (checked) fractions of its length."""
    return np.split(items, np.round(np.cumsum(fractions)[:-1] * len(items)).astype(int))


def stratified_split(y, fractions=(0.6, 0.2, 0.2), seed=0):
    """Index arrays (train, validation, test) that keep each class's share in every part.

    ``fractions`` must add up to 1; within each class the examples are shuffled
    with ``seed`` and cut by rounding the cumulative fractions.
    """
    fractions = check_fractions("stratified_split", fractions)
    rng = np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    for label in np.unique(y):
        for part, chunk in zip(parts, split_by_fractions(rng.permutation(np.flatnonzero(y == label)), fractions)):
            part.append(chunk)
    return tuple(rng.permutation(np.concatenate(part)) for part in parts)


def digits_split(fractions=(0.6, 0.2, 0.2), seed=0, dtype=np.float64):
    """The digits cut by ``stratified_split``: a dict of x_train, y_train, x_val, y_val, x_test, y_test."""
    x, y = load_digits(dtype)
    train, val, test = stratified_split(y, fractions, seed)
    return {"x_train": x[train], "y_train": y[train], "x_val": x[val], "y_val": y[val],
            "x_test": x[test], "y_test": y[test]}


def spiral(points_per_class=100, classes=3, noise=0.2, seed=0, dtype=np.float64):
    """CS231n's spiral: ``classes`` interleaved arms in 2-D. Returns x (N, 2), y (N,)."""
    points_per_class = hyperparameter("spiral", "points_per_class", points_per_class, "int", low=1)
    classes = hyperparameter("spiral", "classes", classes, "int", low=1)
    noise = hyperparameter("spiral", "noise", noise, low=0)
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.0, 1.0, points_per_class), classes)
    y = np.repeat(np.arange(classes), points_per_class)
    theta = (y * 4.0 + np.tile(np.linspace(0.0, 4.0, points_per_class), classes)
             + rng.standard_normal(y.size) * noise)
    x = np.column_stack([radius * np.sin(theta), radius * np.cos(theta)])
    return x.astype(dtype), y


def xor(n=200, noise=0.1, seed=0, dtype=np.float64):
    """Points near the four corners of [-1, 1]^2, class 1 where the signs of the coordinates differ."""
    n = hyperparameter("xor", "n", n, "int", low=1)
    noise = hyperparameter("xor", "noise", noise, low=0)
    rng = np.random.default_rng(seed)
    corners = rng.choice([-1.0, 1.0], size=(n, 2))
    x = corners + rng.standard_normal((n, 2)) * noise
    y = (corners[:, 0] != corners[:, 1]).astype(np.int64)
    return x.astype(dtype), y


def blobs(points_per_class=100, classes=3, spread=0.5, seed=0, dtype=np.float64):
    """Gaussian blobs around ``classes`` centres on the unit circle. Returns x (N, 2), y (N,)."""
    points_per_class = hyperparameter("blobs", "points_per_class", points_per_class, "int", low=1)
    classes = hyperparameter("blobs", "classes", classes, "int", low=1)
    spread = hyperparameter("blobs", "spread", spread, low=0)
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(classes) / classes
    centres = 2.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    y = np.repeat(np.arange(classes), points_per_class)
    x = centres[y] + rng.standard_normal((y.size, 2)) * spread
    return x.astype(dtype), y


def standardise(split, floor=0.1):
    """Shift and scale every x_* of ``split`` by the training set's per-feature mean and std.

    ``floor`` is added to the std so that near-constant pixels (the digits'
    borders) are not blown up. Returns a new dict; y_* are shared.
    """
    mean = split["x_train"].mean(axis=0)
    std = split["x_train"].std(axis=0) + floor
    return {k: ((v - mean) / std).astype(v.dtype) if k.startswith("x_") else v for k, v in split.items()}
