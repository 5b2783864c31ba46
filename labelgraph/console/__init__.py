"""The chat-style control console: watch, ask, steer and label a live run by talking to it.

:class:`~labelgraph.console.controller.Controller` is the UI-free core; the terminal front-end
is ``labelgraph console``.
"""
