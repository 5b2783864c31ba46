"""A small MCP server over stdio for the tests: a film glossary the annotator can consult.

Every call is appended to the file named by ``GLOSSARY_LOG`` so tests can see it ran.
"""

from __future__ import annotations

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
    return "; ".join(v for k, v in GLOSSARY.items() if k in text.lower())


if __name__ == "__main__":
    server.run("stdio")
