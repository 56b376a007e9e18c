"""Shared by the benchmark scripts: thread settings, interleaved timing, memory, reporting.

Import this module before numpy (each script does) so that ``--threads``
reaches the BLAS library when it loads.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def parse_args(description, extra=None):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=None, help="BLAS (and torch) threads; default: the library's")
    p.add_argument("--steps", type=int, default=None, help="timed steps per implementation")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON ('-' for stdout)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    if extra:
        extra(p)
    args = p.parse_args()
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    return args


def load_torch(args):
    if args.no_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    if args.threads:
        torch.set_num_threads(args.threads)
    return torch


def check_agreement(graph, feeds, numpy_grads, params, torch=None, torch_model=None):
    """Largest |difference| in loss and gradients between gategraph, numpy and torch (float64).

    ``numpy_grads(params, x, y)`` returns (loss, grads); ``torch_model(torch,
    params)`` returns (tensors, loss_of). Raises when they differ by 1e-10 or more.
    """
    loss, grads = graph.forward(**feeds), graph.backward()
    others = [numpy_grads({k: v.copy() for k, v in params.items()}, feeds["x"], feeds["y"])]
    if torch is not None:
        tensors, loss_of = torch_model(torch, params)
        t_loss = loss_of(torch.tensor(feeds["x"]), torch.tensor(feeds["y"]))
        t_loss.backward()
        others.append((t_loss.item(), {k: t.grad.numpy() for k, t in tensors.items()}))
    return largest_difference((loss, grads), others)


def largest_difference(ours, others):
    """The largest |difference| in loss or any gradient between ``ours`` and each of ``others``,
    all (loss, {name: gradient}); raises when it is 1e-10 or more (float64 runs)."""
    import numpy as np
    loss, grads = ours
    worst = max((max(abs(loss - other_loss), *(np.max(np.abs(grads[k] - v)) for k, v in other_grads.items()))
                 for other_loss, other_grads in others), default=0.0)
    assert worst < 1e-10, f"implementations disagree by {worst}"
    return worst


def torch_sgd(torch, loss, params, lr, inputs=()):
    """One torch SGD step from ``loss``: backward, update ``params``, drop every gradient (inputs' too)."""
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    for x in inputs:
        x.grad = None


def plain_and_training(plain, trained, x, y, lr, numpy_step):
    """The two steps the MLP and conv tables compare, gategraph's beside numpy's: the plain step
    (forward, ``backward()``, SGD on ``plain``) and the training step (``Trainer.step`` on
    ``trained``). ``numpy_step(with_input)`` is numpy's step, with or without dL/dx."""
    from graph import SGD
    from graph.training.trainer import Trainer
    opt, trainer = SGD(lr), Trainer(trained, SGD(lr))

    def gategraph_plain():
        plain.forward(x=x, y=y)
        plain.backward()
        opt.step(plain.params, plain.grads)

    return {"plain": {"gategraph": gategraph_plain, "numpy": lambda: numpy_step(True)},
            "training": {"gategraph": lambda: trainer.step(x, y), "numpy": lambda: numpy_step(False)}}


def compared(times, fns):
    """The columns every table shares: gategraph's median and spread, its ratios to numpy and torch
    (those timed), and its peak memory against numpy's. ``times`` maps each implementation to its
    `interleaved` result, ``fns`` to its step."""
    gg = times["gategraph"]["median"]
    row = {"gategraph ms": ms(gg), "iqr": ms(times["gategraph"]["iqr"])}
    for other in ("numpy", "torch"):
        if other in times:
            row[f"{other} ms"] = ms(times[other]["median"])
            row[f"vs {other}"] = ratio(gg, times[other]["median"])
    if "numpy" in fns:
        gg_mem, np_mem = peak_memory(fns["gategraph"]), peak_memory(fns["numpy"])
        row["peak MB"] = f"{gg_mem / 2**20:.1f}"
        row["vs numpy mem"] = ratio(gg_mem, np_mem)
    return row


def machine_info(torch=None):
    import numpy as np
    info = {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count()}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads, "
                        f"{p.get('architecture')})" for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        info["blas"] = [f"threadpoolctl not installed (pip install threadpoolctl); OPENBLAS_NUM_THREADS="
                        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"]
    if torch is not None:
        info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    return info


def matmul_gflops(dtype, n=512, repeats=20):
    """The machine's measured matrix-product rate for ``dtype`` (best of ``repeats``), in GFLOP/s."""
    import numpy as np
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    b = a.T.copy()
    a @ b
    best = min(_time_once(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _time_once(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(candidates, steps, warmup=5, rounds=None):
    """Median and spread (interquartile range) of each candidate's step time, in seconds.

    The candidates take turns, a round of a few steps each, so that slow drifts
    of the machine (other load, frequency) hit all of them alike.
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    rounds = rounds or max(1, steps // 10)
    per_round = max(1, steps // rounds)
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            for _ in range(per_round):
                times[name].append(_time_once(fn))
    result = {}
    for name, ts in times.items():
        q = statistics.quantiles(ts, n=4)
        result[name] = {"median": statistics.median(ts), "iqr": q[2] - q[0], "n": len(ts)}
    return result


def peak_memory(fn, repeats=3):
    """Peak bytes numpy (and Python) allocate during one call of ``fn``, after a warm-up call."""
    fn()
    peaks = []
    for _ in range(repeats):
        tracemalloc.start()
        fn()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return min(peaks)


def table(rows, columns):
    text = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in text)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(t.ljust(w) for t, w in zip(row, widths)) for row in text]
    return "\n".join(lines)


def emit(args, title, info, rows, columns, notes=()):
    print(f"# {title}")
    for key, value in info.items():
        print(f"#   {key}: {value}")
    print(table(rows, columns))
    for note in notes:
        print(note)
    if args.json:
        payload = json.dumps({"title": title, "machine": info, "rows": rows}, indent=2)
        if args.json == "-":
            print(payload)
        else:
            with open(args.json, "w") as f:
                f.write(payload)


def ms(seconds):
    return f"{seconds * 1e3:.3f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"
