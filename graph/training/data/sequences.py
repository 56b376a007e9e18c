"""Sequence data made in code (nothing downloaded): integer addition, a small English corpus,
and a character vocabulary to turn text into ids and back."""
import numpy as np

from gates.base import hyperparameter

from .datasets import check_fractions, split_by_fractions

PAD = -1   # the label of positions that count for nothing (SoftmaxWithLoss(ignore_index=PAD))


class Vocabulary:
    """Characters <-> integer ids. ``encode("57+38")`` -> ids; ``decode(ids)`` -> text."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.ids = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        unknown = sorted(set(text) - set(self.ids))
        if unknown:
            raise ValueError(f"characters {unknown} are not in the vocabulary {''.join(self.chars)!r}")
        return np.array([self.ids[c] for c in text], dtype=np.int64)

    def decode(self, ids):
        """The text of ``ids``; PAD positions (labels that count for nothing) are left out."""
        ids = np.ravel(ids)
        if ids.size and ids.dtype.kind not in "iu":
            raise ValueError(f"decode takes integer ids, got {ids.dtype} values")
        ids = ids[ids != PAD]
        wrong = ids[(ids < 0) | (ids >= len(self.chars))]
        if wrong.size:
            raise ValueError(f"ids {sorted(set(wrong.tolist()))} are not in the vocabulary: it has ids 0 to "
                             f"{len(self.chars) - 1} ({''.join(self.chars)!r}), and PAD ({PAD}) for padding")
        return "".join(self.chars[i] for i in ids.tolist())

    def __repr__(self):
        return f"Vocabulary({''.join(self.chars)!r})"


def addition(digits=2, fractions=(0.8, 0.1, 0.1), reverse=True, seed=0):
    """Every problem ``a+b=`` with a, b < 10**digits, split into train / validation / test.

    Each example is one string: the question with its numbers zero-padded
    (``07+38=``), then the answer zero-padded to ``digits + 1`` characters,
    written reversed when ``reverse`` (``045`` for 45 + 0: the first digit a
    model writes is the ones digit, which needs no carry from the digits after
    it). Returns a dict with the ``Vocabulary``, the question length, and for each
    part the list of strings and the arrays of `as_language_model` (``x``, ``y``).
    """
    digits = hyperparameter("addition", "digits", digits, "int", low=1, high=3)
    fractions = check_fractions("addition", fractions)
    n = 10 ** digits
    a, b = np.divmod(np.random.default_rng(seed).permutation(n * n), n)
    width = digits + 1

    def text(a, b):
        answer = f"{a + b:0{width}d}"
        return f"{a:0{digits}d}+{b:0{digits}d}=" + (answer[::-1] if reverse else answer)

    examples = [text(int(p), int(q)) for p, q in zip(a, b)]
    vocab = Vocabulary("0123456789+=")
    question = 2 * digits + 2
    data = {"vocab": vocab, "question_length": question, "reverse": reverse}
    for part, chunk in zip(("train", "val", "test"), split_by_fractions(np.array(examples), fractions)):
        data[part] = list(chunk)
        data[f"x_{part}"], data[f"y_{part}"] = as_language_model(chunk, vocab, answer_from=question)
    return data


def as_language_model(texts, vocab, answer_from=0):
    """Inputs and next-character labels for strings of one length: x = text[:-1], y = text[1:].

    Labels of positions before ``answer_from`` (the question, which the model is
    given, not asked) are PAD, so that the loss counts the answer only.
    """
    ids = np.stack([vocab.encode(t) for t in texts])
    x, y = ids[:, :-1], ids[:, 1:].copy()
    y[:, :max(answer_from - 1, 0)] = PAD
    return x, y


_SUBJECTS = ["the old man", "a small dog", "the river", "my sister", "the teacher", "a tired horse",
             "the children", "the wind", "our neighbour", "the king", "a young fox", "the baker"]
_VERBS = ["walked to", "looked at", "spoke of", "waited for", "ran past", "dreamed of", "sang to",
          "carried", "found", "remembered", "followed", "painted"]
_OBJECTS = ["the green hill", "an empty house", "the morning bread", "a quiet garden", "the long road",
            "the sea", "a bright lamp", "the winter moon", "an open door", "the stone bridge"]
_ENDINGS = ["and then it rained.", "before the sun went down.", "without a word.", "as the bells rang.",
            "and everyone laughed.", "in the early light.", "once more.", "with great care."]


def tiny_corpus(sentences=2000, seed=0):
    """About 100 kB of simple English made from a small grammar (seeded, so always the same text).

    Generated rather than downloaded: it has the short-range regularities a
    character-level model learns first (spelling, spaces, capitals after a full
    stop) and is free of any licence.
    """
    sentences = hyperparameter("tiny_corpus", "sentences", sentences, "int", low=1)
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(sentences):
        words = [_SUBJECTS[rng.integers(len(_SUBJECTS))], _VERBS[rng.integers(len(_VERBS))],
                 _OBJECTS[rng.integers(len(_OBJECTS))], _ENDINGS[rng.integers(len(_ENDINGS))]]
        sentence = " ".join(words)
        lines.append(sentence[0].upper() + sentence[1:])
    return " ".join(lines)


def text_batches(ids, length, seed=None):
    """Cut a long id sequence into (x, y) rows of ``length``: y is x shifted by one character.

    Consecutive rows continue each other, so a model may carry its final state from
    one row to the next (truncated backpropagation through time); ``seed`` shuffles rows.
    """
    length = hyperparameter("text_batches", "length", length, "int", low=1)
    ids = np.asarray(ids)
    rows = (len(ids) - 1) // length
    if rows < 1:
        raise ValueError(f"text_batches: {len(ids)} ids make no row of length {length} (and the id after it)")
    x = ids[:rows * length].reshape(rows, length)
    y = ids[1:rows * length + 1].reshape(rows, length)
    if seed is not None:
        order = np.random.default_rng(seed).permutation(rows)
        x, y = x[order], y[order]
    return x, y


_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _date_text(date, style):
    """One of several ways people write ``date`` (a datetime.date)."""
    month, day, year = _MONTHS[date.month - 1], date.day, date.year
    texts = [f"{month} {day}, {year}", f"{month.title()} {day}, {year}", f"{month.upper()} {day}, {year}",
             f"{month[:3]} {day}, {year}", f"{day} {month} {year}", f"{date.month}/{day}/{year % 100:02d}",
             f"{_DAYS[date.weekday()]}, {month} {day}, {year}", f"{day}.{date.month}.{year}",
             f"{month[:3].upper()} {day:02d} {year}"]
    return texts[style]


def dates(n=20_000, fractions=(0.8, 0.1, 0.1), seed=0):
    """Dates written in nine styles ("september 27, 1994", "9/27/94", "27.9.1994", ...) to be
    translated into ISO form ("1994-09-27"), as in DLfS2's date task; made here, not downloaded.

    Dates run from 1950 to 2049 (so that "94" is 1994 and "27" 2027). Sources are padded with
    spaces to one length. Returns a dict with the ``Vocabulary`` (sources and targets share
    it), ``start`` (the id that starts every answer), and per part the (source, target) pairs
    and the arrays ``source``, ``target_in`` (start id, then the answer but its last character)
    and ``y`` (the answer).
    """
    import datetime
    n = hyperparameter("dates", "n", n, "int", low=1)
    fractions = check_fractions("dates", fractions)
    rng = np.random.default_rng(seed)
    first = datetime.date(1950, 1, 1)
    span = (datetime.date(2049, 12, 31) - first).days + 1
    offsets = rng.choice(span, size=min(n, span), replace=False)
    pairs = [(_date_text(first + datetime.timedelta(days=int(k)), int(rng.integers(9))),
              (first + datetime.timedelta(days=int(k))).isoformat()) for k in offsets]
    width = max(len(s) for s, _ in pairs)
    pairs = [(s.ljust(width), t) for s, t in pairs]
    vocab = Vocabulary("".join(s + t for s, t in pairs) + "_")
    data = {"vocab": vocab, "start": int(vocab.encode("_")[0])}
    for part, chunk in zip(("train", "val", "test"), split_by_fractions(np.arange(len(pairs)), fractions)):
        data[part] = [pairs[i] for i in chunk]
        targets = np.stack([vocab.encode("_" + pairs[i][1]) for i in chunk])
        data[f"source_{part}"] = np.stack([vocab.encode(pairs[i][0]) for i in chunk])
        data[f"target_in_{part}"], data[f"y_{part}"] = targets[:, :-1], targets[:, 1:]
    return data


def digit_strings(length=8, task="reverse", n=12_000, fractions=(0.8, 0.1, 0.1), seed=0):
    """Digit strings and their reversal ("12345678|87654321") or sorting ("35070649|00345679")
    as a language-model task.

    Returns a dict like `addition`'s: the ``Vocabulary``, ``question_length`` and per part the
    strings and the arrays ``x``, ``y`` of `as_language_model` (labels PAD over the question).
    """
    length = hyperparameter("digit_strings", "length", length, "int", low=1)
    task = hyperparameter("digit_strings", "task", task, "choice", choices=("reverse", "sort"))
    n = hyperparameter("digit_strings", "n", n, "int", low=1)
    fractions = check_fractions("digit_strings", fractions)
    rng = np.random.default_rng(seed)
    strings = sorted({"".join(map(str, rng.integers(0, 10, length))) for _ in range(n)})
    strings = [strings[i] for i in rng.permutation(len(strings))]
    examples = [s + "|" + (s[::-1] if task == "reverse" else "".join(sorted(s))) for s in strings]
    vocab = Vocabulary("0123456789|")
    question = length + 1
    data = {"vocab": vocab, "question_length": question}
    for part, chunk in zip(("train", "val", "test"), split_by_fractions(np.array(examples), fractions)):
        data[part] = list(chunk)
        data[f"x_{part}"], data[f"y_{part}"] = as_language_model(chunk, vocab, answer_from=question)
    return data


def words(text):
    """The words of ``text``, lower-cased, with full stops and commas as words of their own."""
    return text.lower().replace(".", " . ").replace(",", " , ").split()


def skip_gram_pairs(ids, window=2, negatives=5, seed=0):
    """Training examples for skip-gram with negative sampling from a sequence of word ids.

    Every word within ``window`` of a centre word is a true context; each comes with
    ``negatives`` words drawn from the unigram distribution to the power 3/4 (Mikolov et al.).
    Returns ``center`` (M,), ``context`` (M, 1 + negatives) and ``labels`` (M, 1 + negatives)
    with 1 in the first column and 0 elsewhere.
    """
    window = hyperparameter("skip_gram_pairs", "window", window, "int", low=1)
    negatives = hyperparameter("skip_gram_pairs", "negatives", negatives, "int", low=0)
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or len(ids) <= window or ids.min() < 0:
        raise ValueError(f"skip_gram_pairs: ids must be a sequence of more than window={window} ids >= 0, got "
                         f"{ids.dtype} data of shape {ids.shape}")
    rng = np.random.default_rng(seed)
    centers, contexts = [], []
    for shift in range(1, window + 1):
        for a, b in ((ids[:-shift], ids[shift:]), (ids[shift:], ids[:-shift])):
            centers.append(a)
            contexts.append(b)
    center, context = np.concatenate(centers), np.concatenate(contexts)
    counts = np.bincount(ids, minlength=ids.max() + 1) ** 0.75
    sampled = rng.choice(len(counts), size=(len(center), negatives), p=counts / counts.sum())
    labels = np.zeros((len(center), negatives + 1), np.int64)
    labels[:, 0] = 1
    return center, np.column_stack([context, sampled]), labels
