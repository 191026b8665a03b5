# The conversions tests' marketplace, wired for server-side delivery, feeds /metrics here.
from usher.conversions.tests.conftest import wiring  # noqa: F401
