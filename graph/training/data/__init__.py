"""Data: the bundled 8x8 digits, toy 2-D sets, and sequence tasks made in code."""
from .datasets import blobs, digits_split, load_digits, spiral, standardise, stratified_split, xor
from .sequences import (
                        PAD,
                        Vocabulary,
                        addition,
                        as_language_model,
                        dates,
                        digit_strings,
                        skip_gram_pairs,
                        text_batches,
                        tiny_corpus,
                        words,
)

__all__ = ["load_digits", "digits_split", "stratified_split", "standardise", "spiral", "xor", "blobs",
           "PAD", "Vocabulary", "addition", "as_language_model", "tiny_corpus", "text_batches", "dates",
           "digit_strings", "words", "skip_gram_pairs"]
