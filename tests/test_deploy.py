"""deploy/: the Compose file, HAProxy's config and the Kubernetes manifests, checked against the app (no Docker
engine or cluster runs in CI): every file parses, and every image, port, environment variable, probe path and
command they name exists in the app."""
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import streamlit.config
import yaml
from streamlit.web.server.starlette.starlette_routes import ROUTE_HEALTH

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = (ROOT / "Dockerfile").read_text()
APP_IMAGE = "nn-playground"  # the Dockerfile's `docker build -t nn-playground .`
MIGRATE = ["python", "-m", "engine.workspace.migrate"]


def _documents() -> dict[str, list[dict]]:
    return {str(path.relative_to(DEPLOY)): list(yaml.safe_load_all(path.read_text()))
            for path in sorted(DEPLOY.rglob("*.yaml"))}


@pytest.fixture(scope="module")
def docs() -> dict[str, list[dict]]:
    return _documents()


@pytest.fixture(scope="module")
def compose(docs) -> dict:
    return docs["compose.yaml"][0]


@pytest.fixture(scope="module")
def k8s(docs) -> dict[str, dict]:
    """kind -> the one manifest of that kind."""
    found = {}
    for name, documents in docs.items():
        for doc in documents if name.startswith("k8s/") and name != "k8s/kustomization.yaml" else []:
            assert doc["kind"] not in found, f"two {doc['kind']}s"
            found[doc["kind"]] = doc
    return found


def _walk(value):
    """Every (key, value) pair in nested dicts and lists."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key, inner
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)


def _pod(manifest: dict) -> dict:
    return manifest["spec"]["template"]["spec"]


def _app_source() -> str:
    return "\n".join(p.read_text() for folder in ("engine", "ui") for p in (ROOT / folder).rglob("*.py"))


def test_every_yaml_file_parses_and_the_expected_ones_are_there(docs):
    assert {"compose.yaml", "k8s/deployment.yaml", "k8s/service.yaml", "k8s/ingress.yaml", "k8s/secret.yaml",
            "k8s/migrate-job.yaml", "k8s/kustomization.yaml"} <= docs.keys()
    assert all(documents and all(isinstance(d, dict) for d in documents) for documents in docs.values())
    kustomized = set(docs["k8s/kustomization.yaml"][0]["resources"])
    assert kustomized == {name.removeprefix("k8s/") for name in docs if name.startswith("k8s/")} - {
        "kustomization.yaml"}


def test_images_are_the_apps_own_or_pinned(docs, compose):
    images = [value for documents in docs.values() for key, value in _walk(documents) if key == "image"]
    assert len(images) >= 6
    for image in images:
        name, _, tag = image.partition(":")
        if name == APP_IMAGE:
            continue
        assert tag and tag != "latest" and re.match(r"\d", tag), f"{image}: pin a version"
    assert f"docker build -t {APP_IMAGE} ." in DOCKERFILE
    for service in ("app", "migrate"):
        assert compose["services"][service]["image"] == APP_IMAGE
    context = DEPLOY / compose["services"]["migrate"]["build"]
    assert (context / "Dockerfile").read_text() == DOCKERFILE  # built from the repository's Dockerfile


def test_ports_are_the_one_the_dockerfile_exposes():
    (exposed,) = re.findall(r"^EXPOSE (\d+)$", DOCKERFILE, re.M)
    assert f"--server.port={exposed}" in DOCKERFILE
    docs = _documents()
    assert docs["compose.yaml"][0]["services"]["app"]["expose"] == [exposed]
    (deployment,) = docs["k8s/deployment.yaml"]
    assert [p["containerPort"] for p in _pod(deployment)["containers"][0]["ports"]] == [int(exposed)]
    servers = re.findall(r"^\s*server-template \S+ \d+ app:(\d+) ", (DEPLOY / "haproxy.cfg").read_text(), re.M)
    assert servers == [exposed]


def test_every_environment_variable_is_one_the_app_or_streamlit_reads(docs):
    source = _app_source()
    streamlit_vars = {option.env_var for option in streamlit.config.get_config_options().values()}
    assert "STREAMLIT_SERVER_COOKIE_SECRET" in streamlit_vars
    named = set()
    for documents in docs.values():
        for key, value in _walk(documents):
            if key == "environment" and isinstance(value, dict):
                named |= {k for k in value if k != "<<"}
            elif key in ("env",):
                named |= {item["name"] for item in value}
            elif key == "stringData":
                named |= set(value)
    named |= {k for k in docs["compose.yaml"][0]["x-database-url"]}
    app_vars = {name for name in named if name.startswith("PLAYGROUND_")}
    assert {"PLAYGROUND_DATABASE_URL", "PLAYGROUND_MAX_CONCURRENT_RUNS", "PLAYGROUND_TORCH_THREADS"} <= app_vars
    for name in app_vars:
        assert f'"{name}"' in source, f"{name} is read nowhere in engine/ or ui/"
    for name in named - app_vars:
        assert name.startswith("POSTGRES_") or name in streamlit_vars, f"{name} is no setting anything reads"


def test_health_checks_use_streamlits_health_route(k8s):
    assert ROUTE_HEALTH == "_stcore/health"
    container = _pod(k8s["Deployment"])["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == f"/{ROUTE_HEALTH}"
        assert container[probe]["httpGet"]["port"] == container["ports"][0]["name"]
    assert f"option httpchk GET /{ROUTE_HEALTH}" in (DEPLOY / "haproxy.cfg").read_text()


def test_the_migration_command_is_the_apps_migration_entry(k8s, compose):
    assert _pod(k8s["Job"])["containers"][0]["command"] == MIGRATE == compose["services"]["migrate"]["command"]
    spec = importlib.util.find_spec(MIGRATE[2])
    assert spec is not None and "def main(" in Path(spec.origin).read_text() and '__name__ == "__main__"' in Path(
        spec.origin).read_text()
    assert compose["services"]["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_kubernetes_objects_refer_to_each_other(k8s):
    deployment, service, ingress, secret = k8s["Deployment"], k8s["Service"], k8s["Ingress"], k8s["Secret"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    port_names = {p["name"] for p in _pod(deployment)["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    backends = [value for key, value in _walk(ingress["spec"]) if key == "service"]
    assert backends and all(b["name"] == service["metadata"]["name"] for b in backends)
    assert all(b["port"]["name"] in {p["name"] for p in service["spec"]["ports"]} for b in backends)
    for manifest in (deployment, k8s["Job"]):
        refs = [ref["secretRef"]["name"] for ref in _pod(manifest)["containers"][0]["envFrom"]]
        assert refs == [secret["metadata"]["name"]]
        assert _pod(manifest)["securityContext"]["runAsUser"] == 10001
    assert "useradd --create-home --uid 10001 playground" in DOCKERFILE
    assert "PLAYGROUND_DATABASE_URL" in secret["stringData"]


def test_the_balancers_keep_each_browser_on_its_replica_and_its_websocket_open(k8s, compose):
    annotations = k8s["Ingress"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    haproxy = (DEPLOY / "haproxy.cfg").read_text()
    assert re.search(r"^\s*cookie SERVERID insert .*dynamic", haproxy, re.M)
    assert re.search(r"^\s*timeout tunnel 1h", haproxy, re.M) and "option redispatch" in haproxy
    mounts = compose["services"]["balancer"]["volumes"]
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in mounts  # where the image reads its config
    assert "pgdata" in compose["volumes"] and any("pgdata:" in v for v in compose["services"]["db"]["volumes"])


def test_haproxy_accepts_the_config_file():
    """HAProxy's own check (`make test` installs Debian's haproxy; the two-replica browser test runs it)."""
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if haproxy is None:
        pytest.skip("haproxy is not installed (make test installs it)")
    done = subprocess.run([haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
