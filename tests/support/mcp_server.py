"""A small MCP server over stdio for the tests: a film glossary the annotator can consult.

Every call is appended to the file named by ``GLOSSARY_LOG`` so tests can see it ran, and
the serving process's id to ``GLOSSARY_PIDS``, so they can see which process ran it. With
``GLOSSARY_INFO`` set (names of environment variables, comma-separated) the server also has
a ``server_info`` tool: its process id and those variables as it sees them.
"""

from __future__ import annotations

import json
import os

from mcp.server.fastmcp import FastMCP

server = FastMCP("glossary", log_level="WARNING")

#: words whose sense in film reviews a general model might miss
GLOSSARY = {"trap": "in these reviews 'a trap of a film' means a dull, boring film: negative"}


@server.tool()
def film_glossary(text: str) -> str:
    """What the film-review jargon in a text means (empty if it has none)."""
    log = os.environ.get("GLOSSARY_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(text + "\n")
    pids = os.environ.get("GLOSSARY_PIDS")
    if pids:
        with open(pids, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    return "; ".join(v for k, v in GLOSSARY.items() if k in text.lower())


if os.environ.get("GLOSSARY_INFO"):

    @server.tool()
    def server_info() -> str:
        """This server's process id and the environment variables GLOSSARY_INFO names."""
        names = os.environ["GLOSSARY_INFO"].split(",")
        return json.dumps({"pid": os.getpid(), "env": {n: os.environ.get(n) for n in names}})


if __name__ == "__main__":
    server.run("stdio")
