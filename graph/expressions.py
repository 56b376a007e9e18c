"""Nodes written as formulas: Python's operators, indexing and methods, each adding a gate."""
import numpy as np

import gates as G


class Expressions:
    """What lets a node be written into a formula: ``+ - * / @ **``, unary ``-`` (with a node,
    or a number or array that becomes a constant, on either side), ``x[index]`` (`Slice`),
    ``x.T``, ``x.sum()``, ``x.mean()``, ``x.reshape(...)`` and ``x.relu()``, ``x.sigmoid()``,
    ``x.tanh()``, ``x.exp()``, ``x.log()``: each adds the matching gate to the node's graph and
    returns the new node.
    """

    __slots__ = ()
    __array_ufunc__ = None    # numpy defers to the operators below: array + node adds a gate

    def _apply(self, gate, other, reflected=False):
        other = self.graph._operand(other)
        return self.graph.add(gate, *((other, self) if reflected else (self, other)))

    def __add__(self, other): return self._apply(G.Add(), other)
    def __radd__(self, other): return self._apply(G.Add(), other, reflected=True)
    def __sub__(self, other): return self._apply(G.Subtract(), other)
    def __rsub__(self, other): return self._apply(G.Subtract(), other, reflected=True)
    def __mul__(self, other): return self._apply(G.Multiply(), other)
    def __rmul__(self, other): return self._apply(G.Multiply(), other, reflected=True)
    def __truediv__(self, other): return self._apply(G.Divide(), other)
    def __rtruediv__(self, other): return self._apply(G.Divide(), other, reflected=True)
    def __matmul__(self, other): return self._apply(G.MatMul(), other)
    def __rmatmul__(self, other): return self._apply(G.MatMul(), other, reflected=True)
    def __neg__(self): return self._apply(G.Multiply(), -1.0)

    def __pow__(self, p):
        if isinstance(p, Expressions) or np.ndim(p) != 0:
            raise TypeError(f"{self.label} ** {p!r}: the exponent must be a number (Power(p) has a fixed p)")
        return self.graph.add(G.Power(p), self)

    def _then(self, gate):
        return self.graph.add(gate, self)

    def __getitem__(self, index): return self._then(G.Slice(index))
    # indexing makes Python think a node iterates (x[0], x[1], ... until an IndexError that
    # never comes while building): say what to do instead
    def __iter__(self): raise TypeError(f"{self.label} is a node, not a sequence: index it as x[k]")

    @property
    def T(self): return self._then(G.Transpose())
    def sum(self, axis=None, keepdims=False): return self._then(G.Sum(axis, keepdims))
    def mean(self, axis=None, keepdims=False): return self._then(G.Mean(axis, keepdims))
    def reshape(self, *shape):
        return self._then(G.Reshape(shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape))
    def relu(self): return self._then(G.ReLU())
    def sigmoid(self): return self._then(G.Sigmoid())
    def tanh(self): return self._then(G.Tanh())
    def exp(self): return self._then(G.Exp())
    def log(self): return self._then(G.Log())

