import pytest
from qbench import primes


def test_small_primes():
    assert primes.sieve(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


def test_nothing_below_two():
    assert primes.sieve(2) == []


@pytest.mark.parametrize("limit", [10_000, 100_000, 400_000])
def test_sieve_agrees_with_trial_division(limit):
    found = primes.sieve(limit)
    assert all(primes.is_prime(p) for p in found[-200:])
    assert sum(primes.is_prime(n) for n in range(limit - 2_000, limit)) == sum(p >= limit - 2_000 for p in found)


def test_prime_counting():
    assert len(primes.sieve(1_000_000)) == 78_498


@pytest.mark.parametrize("n", [1, 2, 97, 360, 2**16, 600_851_475_143, 1_000_000_007 * 3])
def test_factorize_multiplies_back(n):
    factors = primes.factorize(n)
    product = 1
    for f in factors:
        assert primes.is_prime(f)
        product *= f
    assert product == n
