"""Three replicas of the bundled model behind the HAProxy router of deploy/haproxy, on loopback:
conversation affinity against round robin on bench-serve's multi-turn scenario, failover when a
replica dies mid-run, and its return (issue: replicas behind a prefix-aware router)."""

import http.client
import json
import os
import re
import signal
import time
import urllib.request

import pytest

from router_cluster import HAPROXY, WEDLM, Cluster

pytestmark = [
    pytest.mark.skipif(not os.path.exists(WEDLM), reason=f"{WEDLM} not built: router tests skipped"),
    pytest.mark.skipif(not os.path.exists(HAPROXY),
                       reason="haproxy not installed (scripts/setup.sh installs it): skipped"),
]

TURNS = 4
RR_RUNS = 6  # round robin's share varies with the order requests finish in: pooled over runs


def multi_turn(cluster, tmp_path, name, *args, conversations=4):
    """bench-serve's multi-turn scenario, by default at its default shape (4 conversations)."""
    out = tmp_path / f"{name}.json"
    r = cluster.bench("--conversations", str(conversations), "--turns", str(TURNS),
                      "--save-result", str(out), *args)
    assert r.returncode == 0, r.stdout + r.stderr
    print(f"--- {name}\n{r.stdout}")
    return json.loads(out.read_text())["result"]


def replica_requests(result):
    assert all(rep["ok"] for rep in result["replicas"]), result["replicas"]
    return [int(rep["requests"]) for rep in result["replicas"]]


def pooled_share(results):
    return sum(r["cached_tokens"] for r in results) / sum(r["prompt_tokens"] for r in results)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The scenario through each routing, each run on fresh replicas (empty caches)."""
    tmp = tmp_path_factory.mktemp("router")
    out = {"round robin": []}
    for i in range(RR_RUNS):
        with Cluster(policy="roundrobin") as cluster:
            out["round robin"].append(multi_turn(cluster, tmp, f"rr{i}", "--seed", str(i)))
    for name, args in (("body key", ()), ("session header", ("--session-header", "X-Session-Id"))):
        with Cluster(policy="affinity") as cluster:
            out[name] = [multi_turn(cluster, tmp, name.replace(" ", "_"), *args)]
    return out


def test_affinity_keeps_each_conversation_on_one_replica(runs):
    for name in ("body key", "session header"):
        counts = replica_requests(runs[name][0])
        assert sum(counts) == 4 * TURNS
        # every turn of a conversation went to the replica of its first turn
        assert all(n % TURNS == 0 for n in counts), (name, counts)
        assert sum(n > 0 for n in counts) >= 2, f"{name}: all conversations on one replica"
    for r in runs["round robin"]:
        counts = replica_requests(r)
        assert sum(counts) == 4 * TURNS and max(counts) - min(counts) <= 1, counts


def test_affinity_caches_at_least_twice_the_share_of_round_robin(runs):
    rr = pooled_share(runs["round robin"])
    for name in ("body key", "session header"):
        share = pooled_share(runs[name])
        print(f"cached share of prompt tokens: affinity ({name}) {share:.3f}, "
              f"round robin {rr:.3f} (pooled over {RR_RUNS} runs)")
        assert share >= 2 * rr and share > 0.5, (name, share, rr)


def test_failover_loses_only_what_was_in_flight_and_a_restart_rejoins(tmp_path):
    with Cluster() as cluster:
        victim = cluster.replicas[1]
        run = cluster.bench("--conversations", "9", "--turns", "6", "--max-tokens", "48",
                            "--save-result", str(tmp_path / "failover.json"), background=True)
        cluster.router.wait_for(lambda s: int(s["r2"]["stot"]) >= 2)  # mid-run on the victim
        victim.stop(signal.SIGSTOP)  # frozen: its requests in flight stay in flight
        cluster.router.wait_for(lambda s: s["r2"]["status"].startswith("DOWN"))
        at_kill = cluster.router.servers()["r2"]
        in_flight, stot_at_kill = int(at_kill["scur"]), int(at_kill["stot"])
        victim.stop(signal.SIGKILL)
        out, err = run.communicate(timeout=120)
        print(out)
        result = json.loads((tmp_path / "failover.json").read_text())["result"]
        print(f"failover: {in_flight} in flight on the killed replica, "
              f"{result['failed']} of {9 * 6} requests failed")
        assert result["failed"] <= in_flight, (result["failed"], in_flight, out + err)
        survivors = [rep for i, rep in enumerate(result["replicas"]) if i != 1]
        assert all(rep["ok"] for rep in survivors) and not result["replicas"][1]["ok"]
        # every request that did not fail was answered by a survivor or before the kill
        served = sum(int(rep["requests"]) for rep in survivors)
        assert served + int(stot_at_kill) >= 9 * 6 - result["failed"], (served, stot_at_kill)

        # new conversations (other keys) go to the two left, without an error
        keyed = ("--session-header", "X-Session-Id", "--seed", "7")
        after = multi_turn(cluster, tmp_path, "after_kill", *keyed, conversations=9)
        assert after["failed"] == 0
        assert sum(int(rep["requests"]) for rep in after["replicas"] if rep["ok"]) == 9 * TURNS

        cluster.restart(1)
        cluster.router.wait_for(lambda s: s["r2"]["status"] == "UP")
        # the same conversations again: those whose key is the restarted replica's go back to it
        back = multi_turn(cluster, tmp_path, "after_restart", *keyed, conversations=9)
        assert back["failed"] == 0
        counts = replica_requests(back)
        assert counts[1] > 0, f"the restarted replica got no conversation back: {counts}"


def test_a_replica_shutting_down_gracefully_loses_nothing(tmp_path):
    """SIGTERM (what Kubernetes sends): the replica finishes what it has, answers 503 to the rest
    and fails its health check; the router retries those 503s on the others."""
    with Cluster() as cluster:
        run = cluster.bench("--conversations", "9", "--turns", "6", "--max-tokens", "48",
                            "--save-result", str(tmp_path / "drain.json"), background=True)
        cluster.router.wait_for(lambda s: int(s["r2"]["stot"]) >= 2)
        cluster.replicas[1].stop(signal.SIGTERM)  # returns once it has exited
        out, err = run.communicate(timeout=120)
        r2 = cluster.router.servers()["r2"]
        print(f"drain: r2 took {r2['stot']} requests, {r2['wredis']} sent on to another replica")
        result = json.loads((tmp_path / "drain.json").read_text())["result"]
        assert result["failed"] == 0, out + err
        assert run.returncode == 0
        assert int(r2["wredis"]) >= 1, "no request met the draining replica: the test proved nothing"


def running(replica):
    """Requests on a replica's engine (decoding or waiting), from its /metrics."""
    with urllib.request.urlopen(f"{replica.url}/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(re.search(rf"^wedlm:num_requests_{g} (\S+)$", text, re.M).group(1))
               for g in ("running", "waiting"))


def test_a_stream_passes_through_as_it_is_made_and_a_hang_up_cancels_it():
    with Cluster() as cluster:
        conn = http.client.HTTPConnection("127.0.0.1", cluster.router.port, timeout=60)
        body = {"messages": [{"role": "user", "content": "Count from 1 to 40."}], "stream": True,
                "max_tokens": 900, "ignore_eos": True, "decode_mode": "ar"}
        conn.request("POST", "/v1/chat/completions", json.dumps(body),
                     {"Content-Type": "application/json", "X-Session-Id": "stream"})
        resp = conn.getresponse()
        assert resp.status == 200
        first = resp.readline()  # the first event, while the replica is still decoding
        assert first.startswith(b"data: {"), first
        busy = [r for r in cluster.replicas if running(r) == 1]
        assert len(busy) == 1, "the first chunk came before the reply was finished"
        conn.close()  # the client hangs up: the router closes its side, the replica cancels
        deadline = time.monotonic() + 20
        while running(busy[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running(busy[0]) == 0, "the generation went on after the client left"
        with urllib.request.urlopen(f"{busy[0].url}/metrics", timeout=10) as r:
            assert 'wedlm:request_success_total{finished_reason="abort"} 1' in r.read().decode()


def test_the_conversation_key_of_each_kind_of_request():
    """Which replica answers (the router's X-Wedlm-Replica header) for each source of the key."""
    with Cluster() as cluster:
        def replica(body, path="/v1/chat/completions", headers=None):
            req = urllib.request.Request(
                cluster.router.url + path, json.dumps({"max_tokens": 1, **body}).encode(),
                {"Content-Type": "application/json", **(headers or {})})
            with urllib.request.urlopen(req, timeout=30) as r:
                assert r.status == 200
                return r.headers["X-Wedlm-Replica"]

        system = {"role": "system", "content": "You are the agent of a shared platform."}
        firsts = [f"Task {i}: count from {i} to {i + 9}." for i in range(12)]
        turn1 = [replica({"messages": [system, {"role": "user", "content": u}]}) for u in firsts]
        # a shared system prompt: the first user message still spreads the conversations
        assert len(set(turn1)) >= 2, turn1
        for u, where in zip(firsts, turn1):
            later = [system, {"role": "user", "content": u}, {"role": "assistant", "content": "ok"},
                     {"role": "user", "content": "And now backward."}]
            assert replica({"messages": later}) == where  # every turn to the same replica
            parts = [system, {"role": "user", "content": [{"type": "text", "text": u}]}]
            assert replica({"messages": parts}) == where  # content in parts: the same text
        # without a system prompt, the first message alone is the key
        lone = [replica({"messages": [{"role": "user", "content": u}]}) for u in firsts]
        assert len(set(lone)) >= 2, lone
        # prompt_cache_key, and above it X-Session-Id, win over the messages
        keyed = {replica({"messages": [{"role": "user", "content": u}],
                          "prompt_cache_key": "tenant-7"}) for u in firsts}
        assert len(keyed) == 1, keyed
        session = {replica({"messages": [{"role": "user", "content": u}],
                            "prompt_cache_key": f"k{i}"}, headers={"X-Session-Id": "s-1"})
                   for i, u in enumerate(firsts)}
        assert len(session) == 1, session
        # /v1/completions: the prompt's first 1024 bytes
        head = ("Count from 1 to 40. " * 60)[:1024]
        done = {replica({"prompt": head + f" tail {i}"}, "/v1/completions") for i in range(6)}
        assert len(done) == 1, done
