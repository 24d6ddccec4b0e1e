"""Root of every exception ETS Chain raises on purpose."""


class EtsError(Exception):
    """Base class of all ETS Chain errors; catch this to catch any of them."""
