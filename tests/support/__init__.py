"""What the tests use but do not test: the scripted chat models standing in for remote LLM
APIs (``fakes``), worker scripts run in a process of their own, and servers the tests start
(an MCP server, a real model server, the web console on a real run). Tests import them as
``support.<module>``: the root conftest.py puts ``tests/`` on ``sys.path``."""
