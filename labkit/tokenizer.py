"""A character-level tokenizer that is a real `transformers` fast tokenizer.

Every character of the task's alphabet is one token; ``<bos>`` is prepended by
the tokenizer itself (like Llama's), ``<eos>`` ends a completion, ``<pad>``
fills a batch. It saves and loads with ``save_pretrained`` /
``AutoTokenizer.from_pretrained`` exactly like a hub tokenizer.
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from .task import ALPHABET

SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", "<unk>"]


def build_tokenizer(alphabet: str = ALPHABET) -> PreTrainedTokenizerFast:
    """A fast tokenizer with one token per character of ``alphabet`` plus pad/bos/eos/unk."""
    if len(set(alphabet)) != len(alphabet):
        raise ValueError("the alphabet must not repeat a character")
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + list(alphabet))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # one char, one token
    backend.decoder = decoders.Fuse()  # join characters back without spaces
    backend.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        clean_up_tokenization_spaces=False,
        padding_side="right",
    )
