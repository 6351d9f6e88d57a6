import random
from fractions import Fraction

import pytest
from qbench import matrix


def test_identity_is_neutral():
    m = matrix.of([[1, 2], [3, 4]])
    assert matrix.product(m, matrix.identity(2)) == m


def test_determinant_2x2():
    assert matrix.determinant(matrix.of([[1, 2], [3, 4]])) == -2


def test_singular_has_no_inverse():
    with pytest.raises(ZeroDivisionError):
        matrix.inverse(matrix.of([[1, 2], [2, 4]]))


@pytest.mark.parametrize("seed", range(6))
def test_inverse_times_matrix_is_identity(seed):
    rng = random.Random(seed)
    n = 9
    m = matrix.of([[rng.randint(-9, 9) for _ in range(n)] for _ in range(n)])
    if matrix.determinant(m) == 0:
        pytest.skip("singular draw")
    assert matrix.product(m, matrix.inverse(m)) == matrix.identity(n)


def test_determinant_is_multiplicative():
    rng = random.Random(42)
    a = matrix.of([[rng.randint(-5, 5) for _ in range(7)] for _ in range(7)])
    b = matrix.of([[rng.randint(-5, 5) for _ in range(7)] for _ in range(7)])
    assert matrix.determinant(matrix.product(a, b)) == matrix.determinant(a) * matrix.determinant(b)


def test_fractions_stay_exact():
    m = [[Fraction(1, 3), Fraction(1, 7)], [Fraction(2, 5), Fraction(1, 2)]]
    assert matrix.product(m, matrix.inverse(m)) == matrix.identity(2)
