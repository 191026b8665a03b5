"""The campaign optimizer: pure decision code (metrics and state in, decisions out).

No ORM and no HTTP in here: the hourly job reads metrics, calls
:func:`usher.campaigns.optimizer.cycle.run_cycle`, applies the decisions through the
platform connectors and logs them. See docs/optimizer.md for the method.
"""
