"""Training: epochs of shuffled mini-batches, history, best params, early stopping."""
import sys
import time

import numpy as np

from gates.base import hyperparameter

from .optim import clip_grads


def rows(x, index):
    """Rows ``index`` of ``x``: an array, or a dict of named input arrays sharing their first axis."""
    return {name: value[index] for name, value in x.items()} if isinstance(x, dict) else x[index]


def feeds(x):
    """``x`` as the feeds of forward: the input ``x``, or every named input of a dict."""
    return x if isinstance(x, dict) else {"x": x}


def count(x):
    """How many examples ``x`` holds (checking that a dict's arrays agree)."""
    if not isinstance(x, dict):
        return len(x)
    sizes = {name: len(value) for name, value in x.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"the named inputs hold different numbers of examples: {sizes}")
    return next(iter(sizes.values()), 0)


def as_arrays(part, x, name="x"):
    """``x`` (an array, or a dict of named input arrays) with lists made arrays, or a ValueError naming
    the input that does not hold numbers with a first (example) axis."""
    named = x.items() if isinstance(x, dict) else [(name, x)]
    arrays = {}
    for key, value in named:
        try:
            array = np.asarray(value)
        except ValueError as error:          # ragged lists
            raise ValueError(f"the {part} set's {key!r} is not an array of numbers ({error})") from None
        if array.ndim == 0 or array.dtype.kind not in "fiub":
            raise ValueError(f"the {part} set's {key!r} holds {array.dtype} data of shape {array.shape}; expected "
                             "numbers with one row per example")
        arrays[key] = array
    return arrays if isinstance(x, dict) else arrays[name]


def predict(graph, x, output="scores", batch_size=1024):
    """Class predictions argmax(scores) over the last axis for ``x`` (an array fed as input ``x``,
    or a dict of named inputs), computed in eval mode (the mode is restored after). Scores that
    are NaN or inf raise ValueError."""
    modes = [(node.gate, node.gate.training) for node in graph.nodes if node.gate is not None]
    graph.eval()
    try:
        scores = [graph.forward(output=output, **feeds(rows(x, slice(i, i + batch_size))))
                  for i in range(0, count(x), batch_size)]
    finally:
        for gate, mode in modes:
            gate.training = mode
    scores = np.concatenate(scores)
    if not np.isfinite(scores).all():
        raise ValueError(f"predict: the {output!r} node gave NaN or inf scores for {count(x)} examples "
                         "(are there NaNs in x?)")
    return np.argmax(scores, axis=-1)


def ignored_label(graph):
    """The label the graph's loss leaves out (``SoftmaxWithLoss(ignore_index=...)``), or None."""
    return next((node.gate.ignore_index for node in graph.nodes
                  if getattr(node.gate, "ignore_index", None) is not None), None)


def accuracy(graph, x, y, output="scores", ignore=None):
    """The fraction of predictions equal to ``y``: per example, or per position for sequences,
    where positions labelled ``ignore`` (padding) do not count. ``ignore`` defaults to the
    label the graph's loss ignores (`ignored_label`)."""
    y = np.asarray(y)
    ignore = ignored_label(graph) if ignore is None else ignore
    predicted = predict(graph, x, output)
    if predicted.shape != y.shape:
        raise ValueError(f"accuracy: y has shape {y.shape} but the predictions for the {count(x)} examples "
                         f"have shape {predicted.shape}; expected the same shape")
    counted = y != ignore
    if not counted.any():
        raise ValueError(f"accuracy: y of shape {y.shape} has no labelled position to score")
    return float(np.mean(predicted[counted] == y[counted]))


class _Progress:
    """A tqdm bar over epochs when tqdm is installed, otherwise one line per epoch; silent if asked."""

    def __init__(self, epochs, mode):
        self.bar = None
        self.mode = mode
        if mode == "bar":
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=epochs, unit="epoch", file=sys.stderr)
            except ImportError:
                self.mode = "lines"

    def update(self, epoch, epochs, record):
        text = (f"loss {record['loss']:.4f}  train acc {record['train_acc']:.4f}  "
                f"val acc {record['val_acc']:.4f}  lr {record['lr']:.3g}")
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
        elif self.mode != "silent":
            print(f"epoch {epoch:>{len(str(epochs))}}/{epochs}  {text}", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class Trainer:
    """Trains a graph with inputs ``x``, ``y``, a ``scores`` node and a scalar loss output
    (``x`` may be a dict of named inputs instead, for graphs that take several).

    Each epoch shuffles the training set (seeded), runs ``optimizer.step`` on
    every mini-batch, multiplies the learning rate by ``lr_decay``, and records
    the mean training loss and the training and validation accuracy in
    ``history``. The params of the best validation epoch are restored at the
    end; ``patience`` epochs without improvement stop early.
    ``progress`` is "bar" (tqdm when installed), "lines" or "silent".
    """

    def __init__(self, graph, optimizer, batch_size=64, epochs=20, lr_decay=1.0, patience=None,
                 seed=0, progress="bar", train_acc_samples=1000, clip=None):
        batch_size = hyperparameter("Trainer", "batch_size", batch_size, "int", low=1)
        epochs = hyperparameter("Trainer", "epochs", epochs, "int", low=1)
        lr_decay = hyperparameter("Trainer", "lr_decay", lr_decay, low=0, low_open=True)
        patience = hyperparameter("Trainer", "patience", patience, "int", low=1, optional=True)
        clip = hyperparameter("Trainer", "clip", clip, low=0, low_open=True, optional=True)
        progress = hyperparameter("Trainer", "progress", progress, "choice", choices=("bar", "lines", "silent"))
        train_acc_samples = hyperparameter("Trainer", "train_acc_samples", train_acc_samples, "int", low=1)
        self.graph, self.optimizer, self.clip = graph, optimizer, clip
        self.batch_size, self.epochs, self.lr_decay, self.patience = batch_size, epochs, lr_decay, patience
        self.rng = np.random.default_rng(seed)
        self.progress = progress
        self.train_acc_samples = train_acc_samples
        self.history = {"loss": [], "train_acc": [], "val_acc": [], "lr": [], "seconds": []}
        self.best_val_acc, self.best_epoch = -1.0, None

    def step(self, x, y):
        """One optimisation step on a batch; returns its loss."""
        g = self.graph
        loss = g.forward(**feeds(x), y=y)
        g.backward(inputs=False, keep=False)   # the params' gradients are all a step needs
        if self.clip is not None:
            clip_grads(g.grads, self.clip)
        self.optimizer.step(g.params, g.grads)
        return loss

    def fit(self, x_train, y_train, x_val, y_val):
        """Train for the configured epochs; returns ``history``. The data is checked before the first
        step: arrays of numbers, the validation set naming the same inputs as the training set."""
        x_train, x_val = as_arrays("training", x_train), as_arrays("validation", x_val)
        y_train, y_val = as_arrays("training", y_train, "y"), as_arrays("validation", y_val, "y")
        if isinstance(x_train, dict) != isinstance(x_val, dict) or (
                isinstance(x_train, dict) and set(x_train) != set(x_val)):
            named = [sorted(x) if isinstance(x, dict) else "one array x" for x in (x_train, x_val)]
            raise ValueError(f"the training set feeds {named[0]} but the validation set {named[1]}; expected "
                             "the same inputs")
        for part, x, y in (("training", x_train, y_train), ("validation", x_val, y_val)):
            if count(x) != len(y) or len(y) == 0:
                raise ValueError(f"the {part} set has {count(x)} examples in x and {len(y)} in y; expected "
                                 "the same number, at least one")
        g, n = self.graph, count(x_train)
        best = {name: value.copy() for name, value in g.params.items()}
        since_best = 0
        bar = _Progress(self.epochs, self.progress)
        try:
            for epoch in range(1, self.epochs + 1):
                start = time.perf_counter()
                g.train()
                order = self.rng.permutation(n)
                losses = [self.step(rows(x_train, batch), y_train[batch])
                          for batch in np.array_split(order, max(1, -(-n // self.batch_size)))]
                sample = order[:self.train_acc_samples]
                record = {"loss": float(np.mean(losses)),
                          "train_acc": accuracy(g, rows(x_train, sample), y_train[sample]),
                          "val_acc": accuracy(g, x_val, y_val),
                          "lr": self.optimizer.lr,
                          "seconds": time.perf_counter() - start}
                for key, value in record.items():
                    self.history[key].append(value)
                bar.update(epoch, self.epochs, record)
                if record["val_acc"] > self.best_val_acc:
                    self.best_val_acc, self.best_epoch, since_best = record["val_acc"], epoch, 0
                    best = {name: value.copy() for name, value in g.params.items()}
                else:
                    since_best += 1
                    if self.patience is not None and since_best >= self.patience:
                        break
                self.optimizer.lr *= self.lr_decay
        finally:
            bar.close()
            for name, value in best.items():   # in place: optimizers and users hold these arrays
                g.params[name][...] = value
        return self.history


def plot_history(history, path):
    """Loss and accuracy curves of a `Trainer`'s ``history``, saved as an image (needs matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, history["loss"])
    left.set(xlabel="epoch", ylabel="training loss", yscale="log", title="loss")
    right.plot(epochs, history["train_acc"], label="train")
    right.plot(epochs, history["val_acc"], label="validation")
    right.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
