"""Root of every exception ETS Chain raises on purpose, and the root of rule violations."""


class EtsError(Exception):
    """Base class of all ETS Chain errors; catch this to catch any of them."""


class DomainError(EtsError):
    """A rule of the domain was broken by the input (a bad id, code, amount or plan)."""
