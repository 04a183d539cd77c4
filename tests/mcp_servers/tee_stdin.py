"""Run an MCP server on stdio, copying every line the client sends it to a log file, so a
test can see what went over the wire (notifications/cancelled, initialize):

    python -m tests.mcp_servers.tee_stdin LOG COMMAND [ARGS...]
"""

from __future__ import annotations

import subprocess
import sys


def main() -> None:
    log_path, command = sys.argv[1], sys.argv[2:]
    server = subprocess.Popen(command, stdin=subprocess.PIPE)  # its stdout and stderr are ours
    assert server.stdin is not None
    with open(log_path, "ab", buffering=0) as log:
        for line in sys.stdin.buffer:
            log.write(line)
            try:
                server.stdin.write(line)
                server.stdin.flush()
            except BrokenPipeError:
                break
    server.stdin.close()
    sys.exit(server.wait())


if __name__ == "__main__":
    main()
