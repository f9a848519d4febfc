"""Tools from an MCP server (`--mcp-server "command args"` over stdio, `--mcp-url URL` over streamable HTTP),
through strands' MCP client: started once per run, its tools handed to every task agent the run builds."""

from __future__ import annotations

import contextlib
import logging
import shlex
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from config import InputError

# strands' MCP client, cleaning up after a server that failed to start, leaves this coroutine unawaited; the
# failure itself is reported in one line
warnings.filterwarnings("ignore", "coroutine 'MCPClient.stop.<locals>._set_close_event'", RuntimeWarning)


class McpTools:
    """One MCP server's tools for the length of a run (a context manager: the server stops on exit)."""

    def __init__(self, server: str | None = None, url: str | None = None):
        """`server` (a command line, over stdio) or else `url` (streamable HTTP); the run config allows one."""
        from strands.tools.mcp import MCPClient

        self.option = f"--mcp-server {server!r}" if server else f"--mcp-url {url}"
        if server:
            from mcp import StdioServerParameters, stdio_client

            try:
                command, *args = shlex.split(server) or [""]
            except ValueError as exc:  # e.g. an unclosed quote
                raise InputError(f"{self.option}: {exc}") from None
            params = StdioServerParameters(command=command, args=args)
            # the server's stderr goes to the process's own (sys.stderr may be captured, with no file descriptor)
            self.client = MCPClient(lambda: stdio_client(params, errlog=sys.__stderr__))
        else:
            self.client = MCPClient(url=url)

    def __enter__(self) -> list[Any]:
        """Start the server (or connect to it) and list its tools; a server that cannot be reached is bad
        input, reported before any episode runs."""
        try:
            with _quiet(logging.getLogger("strands.tools.mcp")):  # it logs the traceback we report in one line
                self.client.start()
        except Exception as exc:  # the client wraps every transport failure differently (and cleans up)
            raise self._unusable(exc) from None
        try:
            tools = list(self.client.list_tools_sync())
        except Exception as exc:
            self.close()
            raise self._unusable(exc) from None
        if not tools:
            self.close()
            raise InputError(f"{self.option}: the MCP server offers no tools")
        return tools

    def _unusable(self, exc: BaseException) -> InputError:
        cause = root_cause(exc)
        return InputError(f"{self.option}: cannot use the MCP server: {type(cause).__name__}: {cause}")

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already stopped, or never started
            self.client.stop(None, None, None)


def root_cause(exc: BaseException) -> BaseException:
    """The error underneath the client's wrappers and anyio's exception groups."""
    while True:
        if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        elif exc.__cause__ is not None:
            exc = exc.__cause__
        else:
            return exc


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
