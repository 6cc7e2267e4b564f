"""make profile's summary of py-spy's collapsed stacks, and its per-thread CPU split
read from /proc (of this test's own process, with a thread of its own)."""

from __future__ import annotations

import os
import threading
import time

from fastport.bench import profile

RAW = """\
process 1:"python";thread (0x1): "MainThread";_serve (fastport/cli.py:10);publish (fastport/core/broker.py:5) 6
process 1:"python";thread (0x1): "MainThread";_serve (fastport/cli.py:10);frame (fastport/web/websocket.py:7);parse_text (fastport/web/codec.py:3) 3
process 1:"python";thread (0x1): "MainThread";_serve (fastport/cli.py:10);data_received (aiohttp/web_protocol.py:9) 1
process 1:"python";thread (0x2): "pool";_bootstrap (threading.py:1);wait (threading.py:2) 50
process 1:"python";thread (0x1): "MainThread";run (asyncio/runners.py:1);epoll_wait (libc.so.6) 40
"""


def test_summary_shares_layers_and_micros_per_message() -> None:
    text = profile.summarize(RAW, top=5, us_per_msg=20.0)
    lines = text.splitlines()
    # idle pool threads and the loop's epoll wait are not samples of work
    assert lines[0] == "10 samples; sampled threads' CPU 20.0 µs per acked message"
    layers = lines[lines.index("-- self, per layer --") + 1 : lines.index("-- self --") - 1]
    assert layers == [
        " 60.0% 12.00 µs  broker core (fastport/core)",
        " 30.0%  6.00 µs  WebSocket door (fastport/web)",
        " 10.0%  2.00 µs  aiohttp",
    ]
    assert "100.0% 20.00 µs  _serve (fastport/cli.py)" in lines[lines.index("-- total --") :]


def test_thread_shares_tell_the_main_thread_from_the_others() -> None:
    """A second thread, spinning while both reads are taken: it has the process's name
    (Python does not name OS threads), and still is not the main thread."""
    done = threading.Event()
    spinner = threading.Thread(target=lambda: [None for _ in iter(lambda: done.is_set(), True)])
    spinner.start()
    try:
        before = profile.thread_cpu(os.getpid())
        time.sleep(0.2)  # the spinner runs meanwhile
        after = profile.thread_cpu(os.getpid())
    finally:
        done.set()
        spinner.join()
    assert len(after) >= 2 and after[os.getpid()][0] == open(f"/proc/{os.getpid()}/comm").read().strip()
    shares = profile.thread_shares(os.getpid(), before, after)
    name = after[spinner.native_id][0]  # type: ignore[index]
    assert shares[name] > 0 and "main (event loop)" in shares
    assert abs(sum(shares.values()) - 1.0) < 1e-9
