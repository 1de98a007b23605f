"""What the consumer benchmarks share: real consumers (``huey_consumer`` processes on the demo
project), stopped as an operator would (SIGINT: huey finishes the running task), and the machine
line each report starts with."""
import os
import platform
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "contrib", "django", "demo")


def start_consumers(count, env=None, workers=2, log_dir=None):
    """``count`` huey_consumer processes (-w ``workers``, 0.05 s polling, at most 0.2 s back-off) on
    the demo's queue as ``env`` (default: this process's environment) configures it."""
    env = dict(env or os.environ, PYTHONPATH=DEMO)
    procs = []
    for i in range(count):
        out = open(os.path.join(log_dir, "consumer%d.log" % i), "w") if log_dir else subprocess.DEVNULL
        procs.append(subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer",
                                       "solrsync.contrib.django.queue.huey", "-w", str(workers), "-d", "0.05",
                                       "-m", "0.2"] + (["-n"] if i else []),
                                      cwd=DEMO, env=env, stdout=out, stderr=subprocess.STDOUT))
    return procs


def stop_consumers(procs, timeout=60):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def machine():
    return "%s, %s cores, Python %s" % (platform.processor() or platform.machine(), os.cpu_count(),
                                        platform.python_version())
