"""The ``gategraph`` command: ``train`` the digits network, ``check`` gates' gradients, ``show`` an
ONNX model's backward pass."""
import argparse
import importlib
import importlib.util
import inspect
import os
import sys
import tempfile
import time

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.02, "rmsprop": 5e-4, "adam": 5e-4}


class UsageError(Exception):
    """A mistake in how the command was called: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _sizes(text):
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return sizes


def _number(kind, low=0, strict=True):
    """An argparse type: a finite ``kind`` above ``low`` (or at least ``low`` when not ``strict``)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not np.isfinite(value) or value < low or (strict and value == low):
            kind_name = f"positive {kind.__name__}" if strict and low == 0 else \
                f"finite {kind.__name__} {'>' if strict else '>='} {low}"
            raise argparse.ArgumentTypeError(f"expected a {kind_name}, got {text!r}")
        return value
    return parse


def _positive(kind):
    return _number(kind, 0, strict=True)


def parser():
    p = _Parser(prog="gategraph", description="Backpropagation with gates: train on the bundled "
                                              "digits, or check gradients numerically.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a network of gates on the bundled 8x8 digits (or --task addition)")
    t.add_argument("--task", choices=("digits", "addition"), default="digits",
                   help="digits: classify the bundled 8x8 digits (default); addition: an LSTM learns "
                        "2-digit addition ('57+38=') and answers held-out problems")
    t.add_argument("--hidden", type=_sizes, default=None, metavar="N[,N...]",
                   help="hidden layer sizes of the MLP (default 100); the LSTM's hidden size for addition (128)")
    t.add_argument("--conv", action="store_true", help="train a small conv net instead of an MLP")
    t.add_argument("--epochs", type=_positive(int), default=None, help="default 100 (MLP), 30 (conv), 12 (addition)")
    t.add_argument("--batch-size", type=_positive(int), default=None, help="default 16 (digits), 64 (addition)")
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    t.add_argument("--lr", type=_positive(float), default=None,
                   help="learning rate (default: " + ", ".join(f"{k} {v}" for k, v in DEFAULT_LR.items()) + ")")
    t.add_argument("--lr-decay", type=_positive(float), default=None,
                   help="per-epoch factor (default 0.98; 0.9 for addition)")
    at_least_0 = _number(float, 0, strict=False)
    t.add_argument("--l2", type=at_least_0, default=None,
                   help="L2 penalty strength on the weights (default 1e-4 for the MLP, 1e-3 for the conv net)")
    t.add_argument("--filters", type=_positive(int), default=None, help="conv net filters (default 32)")
    t.add_argument("--dropout", type=at_least_0, default=None, help="probability of dropping a hidden unit")
    t.add_argument("--activation", choices=("relu", "tanh", "sigmoid"), default=None, help="MLP (default relu)")
    t.add_argument("--patience", type=_positive(int), default=None, help="stop after N epochs without "
                                                                          "a better validation accuracy")
    t.add_argument("--seed", type=_number(int, 0, strict=False), default=0,
                   help="seeds the split, the weights and the shuffling")
    t.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    t.add_argument("--out", default=None, help="where to save the params (.npz; default "
                                                 "gategraph-digits.npz or gategraph-addition.npz)")
    t.add_argument("--plot", default=None, metavar="PATH", help="save loss and accuracy curves as PNG")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    t.add_argument("--export", default=None, metavar="MODEL.onnx",
                   help="also write the trained model (without its loss) as ONNX (needs the onnx extra)")
    c = sub.add_parser("check", help="check gates' gradients against centred differences")
    c.add_argument("target", nargs="?", help="MODULE:CLASS of a Gate subclass to check "
                                             "(default: every built-in gate and loss)")
    c.add_argument("--shape", type=_sizes, action="append", metavar="N[,N...]",
                   help="shape of one input (repeat for each input; default 3,4 each)")
    c.add_argument("--seed", type=_number(int, 0, strict=False), default=0)
    s = sub.add_parser("show", help="write the step-through page of an ONNX model's forward and backward pass")
    s.add_argument("model", metavar="MODEL.onnx", help="an ONNX model (from gategraph train --export, "
                                                        "torch.onnx.export, ...)")
    s.add_argument("--out", required=True, metavar="PAGE.html", help="where to write the page")
    s.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                   help="feed input NAME from a .npy file (repeat; default: random data of its declared shape)")
    s.add_argument("--check", action="store_true", help="check each gate's gradients numerically on the page")
    s.add_argument("--seed", type=_number(int, 0, strict=False), default=0)
    k = sub.add_parser("course", help="release the notebooks as nbgrader assignments, or grade submissions")
    k.add_argument("action", choices=("release", "grade"))
    k.add_argument("dir", metavar="DIR", help="the course folder (nbgrader's layout)")
    k.add_argument("--notebooks", default="notebooks", metavar="PATH",
                   help="release: the folder of notebooks (default: notebooks/ here)")
    k.add_argument("--timeout", type=_positive(int), default=None,
                   help="seconds a cell may run (default 300 to release, 120 to grade)")
    return p


PLOT_FORMATS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def _writable(path, what):
    """Said before training, not after: a file can be made in ``path``'s folder (tried, not guessed:
    permissions alone do not tell, /proc says yes to root and takes nothing)."""
    if not path:
        raise UsageError(f"cannot write {what} to an empty path")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(folder):
        reason = "it is a folder" if os.path.isdir(path) else f"{folder!r} is not a writable folder (it does not exist)"
        raise UsageError(f"cannot write {what} to {path!r}: {reason}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".gategraph-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"cannot write {what} to {path!r}: {error.strerror or error}") from None


# what a parameter may cost before the command refuses it, rather than fail in numpy
MAX_PARAM_BYTES = 2 << 30


def _needs_onnx(what):
    if importlib.util.find_spec("onnx") is None:
        raise UsageError(f"{what} needs the onnx extra: pip install -e \".[onnx]\" (onnx, onnxruntime)")


def _check_train_options(args):
    """Everything about the options that can be known before training: said now, not after."""
    args.out = args.out if args.out is not None else f"gategraph-{args.task}.npz"
    _writable(args.out, "the params")
    if args.export:
        _needs_onnx("--export")
        _writable(args.export, "the ONNX model")
    if args.plot:
        _writable(args.plot, "the plot")
        if not args.plot.lower().endswith(PLOT_FORMATS):
            raise UsageError(f"--plot {args.plot!r}: expected a file ending in {', '.join(PLOT_FORMATS)}")
        if importlib.util.find_spec("matplotlib") is None:
            raise UsageError("--plot needs matplotlib: pip install matplotlib "
                             "(or pip install -e \".[notebooks]\")")
    if args.task == "addition":
        given = [option for option, value in (("--conv", args.conv), ("--dropout", args.dropout), ("--l2", args.l2),
                                              ("--activation", args.activation), ("--filters", args.filters))
                 if value not in (None, False)]
        given += ["several --hidden sizes"] if len(args.hidden or []) > 1 else []
        if given:
            verb = "do" if len(given) > 1 or given[0].startswith("several") else "does"
            raise UsageError(f"--task addition trains one LSTM layer: {', '.join(given)} {verb} not apply")
        hidden = (args.hidden or [128])[0]
        size = 4 * hidden * hidden * np.dtype(args.dtype).itemsize      # Wh, the largest param
        if size > MAX_PARAM_BYTES:
            raise UsageError(f"--hidden {hidden}: the LSTM's Wh alone would take {size / 2 ** 30:.0f} GiB; "
                             f"choose a size under {int((MAX_PARAM_BYTES / 4 / np.dtype(args.dtype).itemsize) ** 0.5)}")
    else:
        args.dropout = 0.0 if args.dropout is None else args.dropout
        args.activation, args.filters = args.activation or "relu", args.filters or 32
        if args.conv and args.activation != "relu":
            raise UsageError("--activation chooses the MLP's; the conv net uses relu")
        if not 0 <= args.dropout < 1:
            raise UsageError(f"--dropout must lie in [0, 1), got {args.dropout}")
        widest = max([64, *(args.hidden or [100])])
        size = widest * widest * np.dtype(args.dtype).itemsize
        if size > MAX_PARAM_BYTES:
            raise UsageError(f"--hidden {args.hidden}: one weight matrix would take {size / 2 ** 30:.0f} GiB")


def _optimizer(args, default_lr):
    from graph.training.optim import SGD, Adam, Momentum, RMSProp
    lr = args.lr or default_lr
    return {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSProp, "adam": Adam}[args.optimizer](lr), lr


def train(args):
    _check_train_options(args)
    return (train_addition if args.task == "addition" else train_digits)(args)


def train_addition(args):
    from graph.training.data import addition
    from graph.training.networks import generate, language_model
    from graph.training.trainer import Trainer

    dtype = np.dtype(args.dtype)
    data = addition(digits=2, seed=args.seed)
    hidden = args.hidden[0] if args.hidden else 128
    g = language_model(len(data["vocab"]), embed=16, hidden=hidden, cell="lstm", seed=args.seed, dtype=dtype)
    optimizer, lr = _optimizer(args, 0.01 if args.optimizer == "adam" else DEFAULT_LR[args.optimizer])
    print(f"model: character LSTM (embedding 16, hidden {hidden}) - linear - softmax over "
          f"{len(data['vocab'])} characters; {args.optimizer} lr {lr:g}, {args.dtype}")
    print(f"data: {len(data['train'])} train / {len(data['val'])} validation / {len(data['test'])} test "
          f"problems like {data['train'][0][:6]!r} -> {data['train'][0][6:]!r} (answers written reversed, "
          "ones digit first)", flush=True)
    trainer = Trainer(g, optimizer, batch_size=args.batch_size or 64, epochs=args.epochs or 12,
                      lr_decay=args.lr_decay or 0.9, patience=args.patience,
                      seed=args.seed, progress="silent" if args.quiet else "bar", clip=5.0)
    _fit_and_save(g, trainer, data, args, "validation accuracy (answer digits)")
    q = data["question_length"]
    problems = np.stack([data["vocab"].encode(t) for t in data["test"]])
    answers = generate(g, problems[:, :q], problems.shape[1] - q)
    written = data["vocab"].decode(answers[0])[::-1]      # back to the usual order
    # an undertrained model may write '+' or '=' among the digits: show what it wrote
    shown = str(int(written)) if written.isdigit() else repr(written)
    print(f"for example {data['test'][0][:q]}{shown} (greedy decoding; exact match over the whole answer)")
    print(f"test accuracy: {np.mean(np.all(answers == problems[:, q:], axis=1)):.4f}")
    return 0


def train_digits(args):
    from graph.training.data import digits_split, standardise
    from graph.training.networks import convnet, mlp
    from graph.training.trainer import Trainer, accuracy

    dtype = np.dtype(args.dtype)
    data = standardise(digits_split(seed=args.seed, dtype=dtype))
    epochs = args.epochs or (30 if args.conv else 100)
    # a conv net of 32 filters overfits 1,078 digits more readily: it gets more L2
    l2 = args.l2 if args.l2 is not None else (1e-3 if args.conv else 1e-4)
    if args.conv:
        g = convnet(seed=args.seed, dtype=dtype, l2=l2, dropout=args.dropout, filters=args.filters)
        model = (f"conv net (conv 3x3 x{args.filters} - relu - maxpool 2x2 - affine 100 - relu - "
                 "affine 10)")
    else:
        sizes = [64, *(args.hidden or [100]), 10]
        g = mlp(sizes, activation=args.activation, seed=args.seed, dtype=dtype, l2=l2,
                dropout=args.dropout)
        model = f"MLP {'-'.join(map(str, sizes))} {args.activation}"
    optimizer, lr = _optimizer(args, DEFAULT_LR[args.optimizer])
    progress = "silent" if args.quiet else "bar"
    print(f"model: {model}, softmax loss, L2 {l2:g}; {args.optimizer} lr {lr:g}, {args.dtype}")
    print(f"data: {len(data['y_train'])} train / {len(data['y_val'])} validation / "
          f"{len(data['y_test'])} test digits (split seed {args.seed})", flush=True)
    trainer = Trainer(g, optimizer, batch_size=args.batch_size or 16, epochs=epochs, lr_decay=args.lr_decay or 0.98,
                      patience=args.patience, seed=args.seed, progress=progress)
    _fit_and_save(g, trainer, data, args, "validation accuracy")
    print(f"test accuracy: {accuracy(g, data['x_test'], data['y_test']):.4f}")
    return 0


def _fit_and_save(g, trainer, data, args, measure):
    """Train on the split's train part, save the params, and say how it went (and plot it if asked)."""
    start = time.perf_counter()
    history = trainer.fit(data["x_train"], data["y_train"], data["x_val"], data["y_val"])
    seconds = time.perf_counter() - start
    try:
        g.save(args.out)
    except OSError as error:      # the folder was fine before training; it may not be now
        raise UsageError(f"cannot save the params to {args.out!r}: {error.strerror or error}") from None
    print(f"best {measure} {trainer.best_val_acc:.4f} at epoch {trainer.best_epoch} "
          f"of {len(history['loss'])}; {seconds:.1f} s; params saved to {args.out}")
    if args.plot:
        from graph.training.trainer import plot_history
        plot_history(history, args.plot)
        print(f"curves saved to {args.plot}")
    if args.export:
        from graph.onnx import to_onnx
        g.eval()
        to_onnx(g, args.export, output="scores")
        print(f"model (scores, without the loss) exported to {args.export} (ONNX opset 18)")


def _user_gate(target):
    module_name, _, class_name = target.partition(":")
    if not module_name or not class_name:
        raise UsageError(f"expected MODULE:CLASS (e.g. mypkg.gates:Cube), got {target!r}")
    sys.path.insert(0, os.getcwd())   # a user's module beside them, as `python -m` would find it
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise UsageError(f"cannot import {module_name!r}: {type(error).__name__}: {error}") from None
    cls = getattr(module, class_name, None)
    if not (inspect.isclass(cls) and callable(getattr(cls, "forward", None))
            and callable(getattr(cls, "backward", None))):
        raise UsageError(f"{module_name!r} has no gate class {class_name!r} (a class with forward and backward)")
    try:
        return cls()
    except Exception as error:
        raise UsageError(f"cannot make {class_name}() without arguments: {type(error).__name__}: {error}") from None


def check(args):
    from gates.catalogue import GATES
    from gates.check import check_gate
    from losses.catalogue import LOSSES

    if args.target:
        gate = _user_gate(args.target)
        arity = len([p for p in inspect.signature(gate.forward).parameters.values()
                     if p.kind == p.POSITIONAL_OR_KEYWORD])
        shapes = args.shape or [[3, 4]] * max(arity, 1)
        rng = np.random.default_rng(args.seed)
        if sum(int(np.prod(s)) for s in shapes) > 10 ** 6:
            raise UsageError(f"--shape {shapes}: over a million elements in all; the numerical check makes "
                             "two forward passes per element, so keep the shapes small")
        cases = [(args.target, gate, [rng.standard_normal(s) for s in shapes])]
    else:
        if args.shape:
            raise UsageError("--shape applies to a user's gate (MODULE:CLASS) only")
        cases = [(spec.id, *spec.checkable(args.seed)) for spec in GATES + LOSSES]
    rows, failures = [], 0
    for name, gate, inputs in cases:
        shapes = " ".join(str(tuple(np.shape(x))) for x in inputs)
        try:
            errors = [e for e in check_gate(gate, *inputs) if e is not None]
            rows.append((name, shapes, f"{max(errors, default=0.0):.1e}", "pass"))
        except Exception as error:   # a wrong gradient, or a user's gate breaking in any other way
            failures += 1
            rows.append((name, shapes, "-", "FAIL"))
            kind = "" if isinstance(error, AssertionError) else f"{type(error).__name__}: "
            print(f"{name}: {kind}{error}", file=sys.stderr)
    header = ("gate", "input shapes", "worst rel_error", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(text.ljust(w) for text, w in zip(row, widths)).rstrip())
    print(f"{len(rows) - failures} passed, {failures} failed "
          f"(float64, centred differences h=1e-5, allclose rtol 1e-6 atol 1e-8)")
    return 1 if failures else 0


def show(args):
    """Import an ONNX model, run it forward on the given (or random) inputs and backward from the sum
    of its output, and write the step-through page (`graph.onnx.load.show`)."""
    _needs_onnx("gategraph show")
    if not os.path.isfile(args.model):
        raise UsageError(f"{args.model!r} is not a file")
    _writable(args.out, "the page")
    feeds = {}
    for item in args.input:
        name, _, path = item.partition("=")
        if not name or not path:
            raise UsageError(f"--input {item!r}: expected NAME=FILE.npy")
        try:
            feeds[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise UsageError(f"--input {item!r}: cannot read {path!r} as a .npy array ({error})") from None
    from graph.onnx.load import show as show_model
    try:
        print(show_model(args.model, args.out, feeds, check=args.check, seed=args.seed))
    except ValueError as error:
        raise UsageError(str(error)) from None
    return 0


def course(args):
    """``course release DIR`` and ``course grade DIR``, on nbgrader's own generate_assignment,
    autograde and generate_feedback (`graph.course`)."""
    if importlib.util.find_spec("nbgrader") is None:
        raise UsageError("gategraph course needs nbgrader: pip install -e \".[course]\"")
    from graph import course as kit
    try:
        if args.action == "release":
            if not os.path.isdir(args.notebooks):
                raise UsageError(f"--notebooks {args.notebooks!r} is not a folder")
            for path in kit.release(args.dir, args.notebooks, timeout=args.timeout or 300):
                print(f"released {path}")
            return 0
        rows = kit.grade(args.dir, timeout=args.timeout or 120)
    except (FileNotFoundError, RuntimeError) as error:
        raise UsageError(str(error)) from None
    width = max(len(student) for student, *_ in rows)
    for student, notebook, points, total in rows:
        print(f"{student:{width}s}  {notebook}  {points:g} / {total:g}")
    print(f"grades written to {os.path.join(args.dir, 'grades.csv')}; feedback in {os.path.join(args.dir, 'feedback')}")
    return 0


def main(argv=None):
    try:
        args = parser().parse_args(argv)
        return {"train": train, "check": check, "show": show, "course": course}[args.command](args)
    except UsageError as error:
        print(f"gategraph: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gategraph: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("gategraph: error: out of memory; choose smaller --hidden or --batch-size", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
