#!/usr/bin/env python3
"""A long line typed ahead into `tally shell` on a terminal: bytes echoed, time to the answer.

    python3 benches/peers/typeahead.py [--bytes 60000] [--columns 80]
        [--tally target/release/tally] [--paste]

Starts `tally shell --empty` on a pseudo-terminal COLUMNS wide, waits for
the prompt, then writes one `SELECT COUNT(*) AS n FROM events WHERE event_type IN (...);`
line of about BYTES bytes and a newline at once, as a paste without
bracketed-paste markers (a terminal or tmux that does not send them) or
lines typed while a slow statement runs do. With --paste the line is sent
wrapped in the bracketed-paste markers instead. It reads everything tally
writes until the answer's `(1 row)` appears, then sends `.quit`.

Prints the input size, the bytes tally wrote to the terminal, their ratio
to the input, and the seconds from the write to the answer. A line editor
that redraws the whole line at each wrap writes O(BYTES^2 / COLUMNS)
(about 22 MB for 60 KB at 80 columns); tally should write about the input
once more (its echo) plus the answer. Exit status 1 if no answer came
within --timeout seconds.
"""

import argparse
import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time


def statement(size):
    """One line of at least `size` bytes: a count over a long IN list."""
    head = "SELECT COUNT(*) AS n FROM events WHERE event_type IN ('x'"
    parts = [head]
    length = len(head)
    i = 0
    while length < size:
        part = f", 'type_{i}'"
        parts.append(part)
        length += len(part)
        i += 1
    return "".join(parts) + ");"


def read_until(fd, needle, deadline, seen):
    """Appends what the terminal gets to `seen` until `needle` is in it."""
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:  # the child closed the terminal
            return False
        if not chunk:
            return False
        seen.extend(chunk)
    return True


def run(tally, size, columns, paste, timeout):
    """Returns (input bytes, bytes written by tally after the prompt, seconds) or None."""
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = dict(os.environ, TERM="xterm", HOME=os.environ.get("HOME", "/tmp"))
    child = subprocess.Popen(
        [tally, "shell", "--empty"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        close_fds=True,
        start_new_session=True,
    )
    os.close(secondary)
    try:
        seen = bytearray()
        if not read_until(primary, b"tally> ", time.monotonic() + timeout, seen):
            return None
        line = statement(size).encode()
        data = (b"\x1b[200~" + line + b"\x1b[201~\r") if paste else (line + b"\r")
        seen = bytearray()
        started = time.monotonic()
        written = 0
        deadline = started + timeout
        # Write without blocking, reading the echo meanwhile: the terminal's
        # input queue is bounded, and tally blocks writing its echo while
        # nobody reads it.
        os.set_blocking(primary, False)
        while written < len(data):
            select.select([primary], [primary], [], 0.1)
            try:
                written += os.write(primary, data[written : written + 4096])
            except BlockingIOError:
                pass
            try:
                while True:
                    chunk = os.read(primary, 1 << 16)
                    if not chunk:
                        break
                    seen.extend(chunk)
            except (BlockingIOError, OSError):
                pass
            if time.monotonic() > deadline:
                return None
        os.set_blocking(primary, True)
        if not read_until(primary, b"(1 row)", deadline, seen):
            return None
        elapsed = time.monotonic() - started
        os.write(primary, b".quit\r")
        return len(line), len(seen), elapsed
    finally:
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        os.close(primary)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=60_000)
    parser.add_argument("--columns", type=int, default=80)
    parser.add_argument("--tally", default="target/release/tally")
    parser.add_argument("--paste", action="store_true", help="send bracketed-paste markers")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    result = run(args.tally, args.bytes, args.columns, args.paste, args.timeout)
    if result is None:
        print(f"no answer within {args.timeout:.0f} s", file=sys.stderr)
        return 1
    size, out, seconds = result
    print(f"input {size} B, tally wrote {out} B ({out / size:.2f}x the input), answer after {seconds:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
