"""What a reindex and a drain stream share to keep Solr busy while they read and build: threads
posting beside the reader, and CPython's cycle collector held back while they run."""
import contextlib
import gc
import logging
import multiprocessing.pool
import threading

log = logging.getLogger("solrsync.streaming")

_collecting = {"users": 0, "threshold": None, "lock": threading.Lock()}


@contextlib.contextmanager
def fewer_collections():
    """A reindex or a drain allocates millions of short-lived dicts and lists, none in a reference
    cycle: refcounting frees them. CPython's cycle collector, run every 700 allocations by default,
    took a quarter of the time spent reading rows; while any of them runs in the process it runs
    every 50,000, and the setting is put back when the last one ends (the threshold is the
    process's: a drain and a reindex may overlap on a consumer's threads)."""
    with _collecting["lock"]:
        if not _collecting["users"]:
            _collecting["threshold"] = gc.get_threshold()
            gc.set_threshold(50000, *_collecting["threshold"][1:])
        _collecting["users"] += 1
    try:
        yield
    finally:
        with _collecting["lock"]:
            _collecting["users"] -= 1
            if not _collecting["users"]:
                gc.set_threshold(*_collecting["threshold"])


def _started(parent, warm):
    """A posting thread is named after the thread it posts for (logs; a test pausing that thread),
    and runs ``warm`` first (see ``posting_threads``)."""
    threading.current_thread().name = parent + "/post"
    if warm is not None:
        try:
            warm()
        except Exception as exc:  # tried again at its first post, which fails as a post does
            log.debug("a posting thread's first step failed: %s", exc)


class Posters(multiprocessing.pool.ThreadPool):
    """A thread pool that knows how many threads it has (``close_posters`` visits each)."""

    def __init__(self, count, warm):
        self.count = count
        super().__init__(count, _started, (threading.current_thread().name, warm))


def posting_threads(count=1, warm=None):
    """Threads posting in order for the calling one (a reindex's, a drain stream's) while that one
    reads and builds the next: ``count`` posts under way at once. ``warm()`` runs in each as it
    starts (a reindex's sink asks its core's schema then, so a post's first step is its fence)."""
    return Posters(count, warm)


def close_posters(poster, changelog):
    """The database connection each of ``poster``'s threads opened for its fence checks, closed in
    the thread that opened it; then the threads end."""
    close = getattr(changelog, "close_thread_connection", None)
    try:
        if close is not None:
            _in_each(poster, poster.count, close)
    except Exception as exc:
        log.warning("a posting thread's connection not closed: %s", exc)
    finally:
        poster.terminate()
        poster.join()


def _in_each(pool, threads, fn):
    """``fn()`` once in each of a thread pool's ``threads`` threads: each waits for the others
    to take theirs, so no thread takes two."""
    barrier = threading.Barrier(threads)

    def run(_):
        try:
            fn()
        finally:
            barrier.wait(60)
    pool.map(run, range(threads), chunksize=1)
