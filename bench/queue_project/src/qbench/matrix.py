"""Square matrices as lists of rows of Fractions: product, identity, determinant, inverse."""

from __future__ import annotations

from fractions import Fraction

Matrix = list[list[Fraction]]


def of(rows: list[list[int]]) -> Matrix:
    return [[Fraction(x) for x in row] for row in rows]


def identity(n: int) -> Matrix:
    return [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]


def product(a: Matrix, b: Matrix) -> Matrix:
    columns = list(zip(*b, strict=True))
    return [[sum((x * y for x, y in zip(row, col, strict=True)), Fraction(0)) for col in columns] for row in a]


def _eliminate(m: Matrix, aug: Matrix) -> Fraction:
    """Gauss-Jordan on ``m`` (to the identity) and ``aug`` alongside; returns the determinant."""
    n, det = len(m), Fraction(1)
    for col in range(n):
        pivot = next((r for r in range(col, n) if m[r][col] != 0), None)
        if pivot is None:
            return Fraction(0)
        if pivot != col:
            m[col], m[pivot], aug[col], aug[pivot] = m[pivot], m[col], aug[pivot], aug[col]
            det = -det
        scale = m[col][col]
        det *= scale
        m[col] = [x / scale for x in m[col]]
        aug[col] = [x / scale for x in aug[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
                aug[r] = [x - f * y for x, y in zip(aug[r], aug[col], strict=True)]
    return det


def determinant(m: Matrix) -> Fraction:
    return _eliminate([row[:] for row in m], identity(len(m)))


def inverse(m: Matrix) -> Matrix:
    aug = identity(len(m))
    if _eliminate([row[:] for row in m], aug) == 0:
        raise ZeroDivisionError("singular matrix")
    return aug
