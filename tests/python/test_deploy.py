"""deploy/: the router's HAProxy configuration parses in each of its forms, and the Kubernetes
tree renders (kubectl kustomize) into objects that are valid API objects and agree with each
other and with the server (ports, probes, shutdown grace, metric names)."""

import os
import re
import shutil
import subprocess
import urllib.request

import pytest

import conftest
from router_cluster import HAPROXY, Replica, WEDLM

DEPLOY = os.path.join(conftest.ROOT, "deploy")
HAPROXY_DIR = os.path.join(DEPLOY, "haproxy")
KUBECTL = shutil.which("kubectl")
yaml = pytest.importorskip("yaml", reason="python3-yaml missing (scripts/setup.sh installs it)")


def haproxy_check(replicas_file, **env):
    return subprocess.run([HAPROXY, "-c", "-f", os.path.join(HAPROXY_DIR, "haproxy.cfg"),
                           "-f", os.path.join(HAPROXY_DIR, replicas_file)],
                          env=dict(os.environ, **env), capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(not os.path.exists(HAPROXY), reason="haproxy not installed: skipped")
@pytest.mark.parametrize("replicas_file,env", [
    ("replicas-local.cfg", {}),
    ("replicas-local.cfg", {"WEDLM_ROUTER_POLICY": "roundrobin"}),
    ("replicas-dns.cfg", {"WEDLM_REPLICAS_DOMAIN": "wedlm-replicas.wedlm.svc.cluster.local"}),
])
def test_router_configuration_is_valid(replicas_file, env):
    r = haproxy_check(replicas_file, **env)
    assert r.returncode == 0 and "WARNING" not in r.stderr, r.stderr


@pytest.mark.skipif(not os.path.exists(HAPROXY), reason="haproxy not installed: skipped")
def test_router_configuration_refuses_a_broken_line(tmp_path):
    """The check above can fail: a misspelled keyword is refused."""
    good = os.path.join(HAPROXY_DIR, "replicas-local.cfg")
    path = tmp_path / "replicas-broken.cfg"
    path.write_text(open(good).read().replace("  server r1", "  srever r1"))
    r = haproxy_check(str(path))
    assert r.returncode != 0 and "srever" in r.stderr


@pytest.fixture(scope="module")
def objects():
    if not KUBECTL:
        pytest.skip("kubectl missing (scripts/setup.sh installs kubernetes-client): skipped")
    r = subprocess.run([KUBECTL, "kustomize", DEPLOY], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    with open(os.path.join(DEPLOY, "k8s", "monitoring", "prometheus-adapter.yaml")) as f:
        docs += [d for d in yaml.safe_load_all(f) if d]
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}


def k8s_schema():
    return pytest.importorskip("k8s_schema", reason="python3-kubernetes missing: skipped")


def test_every_object_is_a_valid_api_object(objects):
    schema = k8s_schema()
    assert {"StatefulSet/wedlm", "Service/wedlm-replicas", "Deployment/wedlm-router",
            "Service/wedlm", "HorizontalPodAutoscaler/wedlm", "PodDisruptionBudget/wedlm",
            "PersistentVolumeClaim/wedlm-models", "ConfigMap/adapter-config"} <= set(objects)
    for name, obj in objects.items():
        assert schema.errors_of(obj) == [], name


def test_the_schema_check_finds_what_kubernetes_would_refuse(objects):
    schema = k8s_schema()
    bad = yaml.safe_load(yaml.safe_dump(objects["StatefulSet/wedlm"]))
    bad["spec"]["replicaz"] = 3
    bad["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": "8080"}]
    errors = schema.errors_of(bad)
    assert any("replicaz: no such field" in e for e in errors), errors
    assert any("containerPort: expected int" in e for e in errors), errors
    del bad["spec"]["selector"]
    bad["spec"].pop("replicaz")
    bad["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    assert any("selector" in e for e in schema.errors_of(bad))


def flag(args, name):
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name}= once in {args}"
    return values[0]


def test_replicas_drain_within_the_grace_kubernetes_gives_them(objects):
    pod = objects["StatefulSet/wedlm"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    # SIGTERM, --shutdown-grace for in-flight requests, then up to 5 s to answer what is left
    assert pod["terminationGracePeriodSeconds"] >= float(flag(c["args"], "shutdown-grace")) + 5
    port = int(flag(c["args"], "port"))
    assert [p["containerPort"] for p in c["ports"] if p["name"] == "http"] == [port]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_router_names_every_replica_the_autoscaler_may_make(objects):
    sts, hpa = objects["StatefulSet/wedlm"], objects["HorizontalPodAutoscaler/wedlm"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                             "name": "wedlm"}
    text = open(os.path.join(HAPROXY_DIR, "replicas-dns.cfg")).read()
    names = re.findall(r'^\s*server r\d+ "([\w-]+)\.\$\{WEDLM_REPLICAS_DOMAIN\}:(\d+)"', text, re.M)
    assert [n for n, _ in names] == [f"wedlm-{i}" for i in range(len(names))]
    assert len(names) >= hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]
    assert {port for _, port in names} == {"8080"}
    router = objects["Deployment/wedlm-router"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in router["env"]}
    assert env["WEDLM_REPLICAS_DOMAIN"].split(".")[0] == sts["spec"]["serviceName"]
    assert objects["Service/wedlm-replicas"]["spec"]["clusterIP"] == "None"
    config = [v for k, v in objects.items() if k.startswith("ConfigMap/wedlm-router")]
    assert len(config) == 1 and set(config[0]["data"]) == {"haproxy.cfg", "replicas-dns.cfg"}


@pytest.mark.skipif(not os.path.exists(WEDLM), reason=f"{WEDLM} not built: skipped")
def test_autoscaling_metrics_are_the_servers_own(objects):
    """The adapter's series are gauges a replica exports, renamed as the autoscaler asks."""
    adapter = yaml.safe_load(objects["ConfigMap/adapter-config"]["data"]["config.yaml"])
    replica = Replica()
    try:
        with urllib.request.urlopen(f"{replica.url}/metrics", timeout=10) as r:
            exported = r.read().decode()
    finally:
        replica.stop()
    served = set()
    for rule in adapter["rules"]:
        series = rule["seriesQuery"].split("{")[0]
        assert re.search(rf"^# TYPE {re.escape(series)} gauge$", exported, re.M), series
        served.add(re.sub(rule["name"]["matches"], rule["name"]["as"].replace("${1}", r"\1"),
                          series))
    wanted = {m["pods"]["metric"]["name"]
              for m in objects["HorizontalPodAutoscaler/wedlm"]["spec"]["metrics"]}
    assert wanted == served
