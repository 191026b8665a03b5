"""Conversions connector tests: payload format and behaviour against the sandbox."""
