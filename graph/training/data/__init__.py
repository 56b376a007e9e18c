"""Data: the bundled 8x8 digits and toy sets for the notebooks."""
from .datasets import blobs, digits_split, load_digits, spiral, standardise, stratified_split, xor

__all__ = ["load_digits", "digits_split", "stratified_split", "standardise", "spiral", "xor", "blobs"]
