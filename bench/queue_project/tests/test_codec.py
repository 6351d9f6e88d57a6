import random
import string

import pytest
from qbench import codec


def test_rle_runs():
    assert codec.rle_encode("aaabcc") == [("a", 3), ("b", 1), ("c", 2)]


@pytest.mark.parametrize("seed", range(4))
def test_rle_round_trip(seed):
    rng = random.Random(seed)
    text = "".join(rng.choice("aab") * rng.randint(1, 5) for _ in range(20_000))
    assert codec.rle_decode(codec.rle_encode(text)) == text


@pytest.mark.parametrize("n", [0, 1, 35, 36, -1296, 2**64])
def test_base36_round_trip(n):
    assert codec.from_base36(codec.to_base36(n)) == n


def test_base36_many():
    assert all(codec.from_base36(codec.to_base36(n)) == n for n in range(0, 3_000_000, 37))


def test_caesar_inverse():
    text = string.ascii_letters + " 123"
    assert codec.caesar(codec.caesar(text, 11), -11) == text
    assert codec.caesar("abc", 1) == "bcd"
