import pytest
from qbench import features


@pytest.mark.parametrize("name", features.names())
def test_feature(name):
    assert features.load(name).check(), f"{name}.check() is false"
