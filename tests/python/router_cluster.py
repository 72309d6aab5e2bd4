"""Replicas of `wedlm serve` behind the HAProxy router of deploy/haproxy, all on loopback: what
tests/python/test_router.py starts, kills and restarts."""

import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import conftest

WEDLM = os.path.join(conftest.ROOT, "build", "src", "tools", "wedlm")
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
ROUTER_CONFIG = [os.path.join(conftest.ROOT, "deploy", "haproxy", f)
                 for f in ("haproxy.cfg", "replicas-local.cfg")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    """One `wedlm serve` on the bundled model with one thread."""

    def __init__(self, port=0, args=()):
        self.args = tuple(args)
        self.proc = subprocess.Popen([WEDLM, "serve", "--port", str(port), "-t", "1", *args],
                                     stderr=subprocess.PIPE, text=True)
        self.port = None
        for line in self.proc.stderr:
            event = json.loads(line)
            if event.get("event") == "ready":
                self.port = event["port"]
                break
        assert self.port, "a replica did not become ready"
        # the rest of its log is drained so that the replica never blocks on a full pipe
        self.drain = subprocess.Popen(["cat"], stdin=self.proc.stderr, stdout=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            if sig != signal.SIGSTOP:
                self.proc.wait(timeout=30)
                self.drain.wait(timeout=10)


class Router:
    """HAProxy with the repository's configuration, its replicas given by environment."""

    def __init__(self, replicas, policy="affinity"):
        self.port, self.stats_port = free_port(), free_port()
        env = dict(os.environ, WEDLM_ROUTER_BIND=f"127.0.0.1:{self.port}",
                   WEDLM_ROUTER_STATS=f"127.0.0.1:{self.stats_port}",
                   WEDLM_ROUTER_POLICY=policy, WEDLM_CHECK_INTER="200ms")
        for i, r in enumerate(replicas, 1):
            env[f"WEDLM_REPLICA_{i}"] = f"127.0.0.1:{r.port}"
        args = [HAPROXY, "-db"]
        for f in ROUTER_CONFIG:
            args += ["-f", f]
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        self.wait_for(lambda s: all(s[f"r{i}"]["status"] == "UP"
                                    for i in range(1, len(replicas) + 1)))

    def servers(self):
        """The replicas' rows of HAProxy's statistics, by server name."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv",
                                    timeout=5) as r:
            text = r.read().decode().lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {row["svname"]: row for row in rows if row["pxname"] == "replicas"}

    def wait_for(self, condition, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition(self.servers()):
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.05)
        raise AssertionError(f"the router's servers never got there: {self.servers()}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Cluster:
    """n replicas and a router; a context manager that stops everything it started."""

    def __init__(self, n=3, policy="affinity", replica_args=()):
        self.replicas = [Replica(args=replica_args) for _ in range(n)]
        self.router = Router(self.replicas, policy)

    def restart(self, i):
        """Starts replica i again on its port (after it was killed)."""
        self.replicas[i] = Replica(self.replicas[i].port, self.replicas[i].args)

    def bench(self, *args, background=False):
        cmd = [WEDLM, "bench-serve", "--base-url", self.router.url, "--no-progress",
               "--scenario", "multi-turn",
               "--replica-metrics", ",".join(r.url for r in self.replicas), *args]
        if background:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.router.stop()
        for r in self.replicas:
            if r.proc.poll() is None:
                r.proc.kill()
                r.proc.wait()
                r.drain.wait()
