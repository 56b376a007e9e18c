"""Sequence data made in code (nothing downloaded): integer addition, a small English corpus,
and a character vocabulary to turn text into ids and back."""
import numpy as np

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
        return "".join(self.chars[int(i)] for i in np.ravel(ids))

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
    if not 1 <= digits <= 3:
        raise ValueError(f"digits must be 1, 2 or 3, got {digits}")
    n = 10 ** digits
    a, b = np.divmod(np.random.default_rng(seed).permutation(n * n), n)
    width = digits + 1

    def text(a, b):
        answer = f"{a + b:0{width}d}"
        return f"{a:0{digits}d}+{b:0{digits}d}=" + (answer[::-1] if reverse else answer)

    examples = [text(int(p), int(q)) for p, q in zip(a, b)]
    vocab = Vocabulary("0123456789+=")
    cuts = np.round(np.cumsum(fractions)[:-1] * len(examples)).astype(int)
    question = 2 * digits + 2
    data = {"vocab": vocab, "question_length": question, "reverse": reverse}
    for part, chunk in zip(("train", "val", "test"), np.split(np.array(examples), cuts)):
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
    rows = (len(ids) - 1) // length
    x = ids[:rows * length].reshape(rows, length)
    y = ids[1:rows * length + 1].reshape(rows, length)
    if seed is not None:
        order = np.random.default_rng(seed).permutation(rows)
        x, y = x[order], y[order]
    return x, y
