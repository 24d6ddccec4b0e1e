"""The ``ets`` command line (entry point :data:`ets.cli.main.app`)."""
