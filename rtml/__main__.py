"""``python -m rtml`` is the ``rtml`` command."""

from rtml.cli import main

main()
