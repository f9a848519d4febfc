"""Tools from an MCP server (`--mcp-server "command args"` over stdio, `--mcp-url URL` over streamable HTTP),
through strands' MCP client: started once per run, its tools handed to every task agent the run builds."""

from __future__ import annotations

import contextlib
import shlex
import sys
from typing import Any

from config import InputError


class McpTools:
    """One MCP server's tools for the length of a run (a context manager: the server stops on exit)."""

    def __init__(self, server: str | None = None, url: str | None = None):
        from strands.tools.mcp import MCPClient

        if bool(server) == bool(url):
            raise InputError("--mcp-server / --mcp-url: give exactly one")
        self.option = f"--mcp-server {server!r}" if server else f"--mcp-url {url}"
        if server:
            from mcp import StdioServerParameters, stdio_client

            command, *args = shlex.split(server) or [""]
            params = StdioServerParameters(command=command, args=args)
            # the server's stderr goes to the process's own (sys.stderr may be captured, with no file descriptor)
            self.client = MCPClient(lambda: stdio_client(params, errlog=sys.__stderr__))
        else:
            self.client = MCPClient(url=url)

    def __enter__(self) -> list[Any]:
        """Start the server (or connect to it) and list its tools; a server that cannot be reached is bad
        input, reported before any episode runs."""
        try:
            self.client.start()
        except Exception as exc:  # the client wraps every transport failure differently (and cleans up)
            cause = exc.__cause__ or exc
            raise InputError(f"{self.option}: cannot use the MCP server: {type(cause).__name__}: {cause}") from None
        try:
            tools = list(self.client.list_tools_sync())
        except Exception as exc:
            self.close()
            cause = exc.__cause__ or exc
            raise InputError(f"{self.option}: cannot use the MCP server: {type(cause).__name__}: {cause}") from None
        if not tools:
            self.close()
            raise InputError(f"{self.option}: the MCP server offers no tools")
        return tools

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already stopped, or never started
            self.client.stop(None, None, None)
