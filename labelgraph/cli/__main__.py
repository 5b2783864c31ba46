"""``python -m labelgraph.cli``: the same as the ``labelgraph`` command."""

from labelgraph.cli import app

app()
