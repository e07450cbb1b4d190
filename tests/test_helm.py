"""The Helm chart (helm/livc): lint, render, validate every manifest offline, and check what an
operator relies on: migrations as the table owner before new pods start, the right process in
each workload, one scheduler, probes, hardened pods, no secret in the rendered output, the key
custodian as a deployment of its own that only web and worker reach and whose files no other
pod mounts, and bad values refused by values.schema.json before anything reaches a cluster.

Needs a helm 3 binary: ``scripts/install-helm.sh`` puts one in ``.tools/bin/helm`` (``helm`` on
PATH also works). Without it the tests are skipped, or fail under ``CI=true``.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "helm" / "livc"
CI = os.environ.get("CI", "").lower() == "true"
RELEASE = "livc"

SECRET_VARS = (
    "LIVC_SECRET_KEY",
    "LIVC_DATABASE_URL",
    "LIVC_MIGRATE_DATABASE_URL",
    "LIVC_REDIS_URL",
    "LIVC_SMTP_URL",
    "LIVC_MASTER_KEY",
    "LIVC_CUSTODIAN_CLIENT_ID",
    "LIVC_CUSTODIAN_CLIENT_SECRET",
)
APP_SECRET_VARS = {"LIVC_SECRET_KEY", "LIVC_DATABASE_URL", "LIVC_REDIS_URL", "LIVC_SMTP_URL", "LIVC_MASTER_KEY"}
# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest the
# validator knows.
OLDEST_KUBERNETES = "1.25.0"

FULL_VALUES = {
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "host": "livc.example.be",
        "tls": {"secretName": "livc-tls"},
    },
    "networkPolicy": {
        "enabled": True,
        "ingressFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
        ],
    },
    "worker": {"classes": {"general": {"replicas": 3, "autoscaling": {"enabled": False}}}},
    "migrations": {"existingSecret": "livc-owner"},
    "config": {"extra": {"LIVC_HOST": "0.0.0.0"}},
}
# Where the custodian's pod keeps its key volume and its clients Secret.
CUSTODIAN_DATA, CUSTODIAN_CLIENTS = "/var/lib/livc-custodian", "/etc/livc-custodian"
# What the operator's Secret holds, for checking the rendered settings.
FAKE_SECRETS = {
    "LIVC_SECRET_KEY": "s" * 40,
    "LIVC_DATABASE_URL": "postgresql://app@db/livc",
    "LIVC_REDIS_URL": "redis://redis:6379/0",
    "LIVC_SMTP_URL": "smtp://mail:587",
    "LIVC_MASTER_KEY": base64.urlsafe_b64encode(b"k" * 32).decode(),
    "LIVC_CUSTODIAN_CLIENT_ID": "livc-platform",
    "LIVC_CUSTODIAN_CLIENT_SECRET": "c" * 43,
}
# The default worker classes and the queues each serves (values.yaml).
WORKER_CLASSES = {"worker": ["default", "mail"], "worker-federation": ["federation"], "worker-maintenance": ["maintenance"]}
# Everything on, the key custodian too.
CUSTODIAN_VALUES = {**copy.deepcopy(FULL_VALUES), "custodian": {"enabled": True}}


def unavailable(message: str):
    if CI:
        pytest.fail(f"CI=true requires it: {message}", pytrace=False)
    pytest.skip(message)


def find_helm() -> str | None:
    local = REPO / ".tools" / "bin" / "helm"  # where scripts/install-helm.sh puts it
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("helm")


@pytest.fixture(scope="session")
def helm(tmp_path_factory) -> dict:
    """The helm binary and an environment that keeps it away from the user's config and cluster."""
    binary = find_helm()
    if binary is None:
        unavailable(
            "helm is not installed; run scripts/install-helm.sh (puts it in .tools/bin/helm)"
        )
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "KUBECONFIG": str(home / "no-kubeconfig"),
    }
    version = subprocess.run(
        [binary, "version", "--template", "{{.Version}}"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not version.startswith("v3."):
        unavailable(f"{binary} is helm {version or '?'}, not helm 3; run scripts/install-helm.sh")
    return {"binary": binary, "env": env, "values_dir": tmp_path_factory.mktemp("helm-values")}


def run_helm(helm: dict, *args: str, values: dict | None = None, values_text: str | None = None):
    command = [helm["binary"], *args]
    if values is not None or values_text is not None:
        path = helm["values_dir"] / f"values-{len(list(helm['values_dir'].iterdir()))}.yaml"
        path.write_text(values_text if values_text is not None else yaml.safe_dump(values))
        command += ["--values", str(path)]
    return subprocess.run(
        command, check=False, env=helm["env"], capture_output=True, text=True, timeout=300
    )


@dataclass
class Rendering:
    documents: list[dict]
    text: str
    values: dict = field(default_factory=dict)


def render(helm: dict, values: dict | None = None) -> Rendering:
    result = run_helm(helm, "template", RELEASE, str(CHART), "--namespace", "livc", values=values)
    assert result.returncode == 0, result.stderr
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendering(documents, result.stdout, values or {})


def validator():
    try:
        import kubernetes_validate
    except ImportError:
        unavailable(
            "kubernetes-validate is not installed; .venv/bin/pip install kubernetes-validate"
        )
    return kubernetes_validate


@pytest.fixture(scope="session")
def default_render(helm):
    return render(helm)


@pytest.fixture(scope="session")
def full_render(helm):
    return render(helm, FULL_VALUES)


@pytest.fixture(scope="session")
def custodian_render(helm):
    return render(helm, CUSTODIAN_VALUES)


@pytest.fixture(params=["default", "full", "custodian"])
def rendered(request):
    """Each rendering in turn: default values; ingress + network policy + the rest on; and all
    that with the key custodian."""
    return request.getfixturevalue(f"{request.param}_render")


def find(documents: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [
        d
        for d in documents
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def workload(documents: list[dict], component: str) -> dict:
    suffix = {"web": "web", "worker": "worker-general", "cron": "cron", "migrate": "migrate", "custodian": "custodian",
              "worker-federation": "worker-federation", "worker-maintenance": "worker-maintenance", "relay": "relay"}[component]
    kind = "Job" if component == "migrate" else "Deployment"
    return find(documents, kind, f"{RELEASE}-{suffix}")


def pod_spec(document: dict) -> dict:
    return document["spec"]["template"]["spec"]


def container(document: dict) -> dict:
    containers = pod_spec(document)["containers"]
    assert len(containers) == 1
    return containers[0]


def command_line(document: dict) -> list[str]:
    c = container(document)
    return [*c.get("command", []), *c.get("args", [])]


def env_of(document: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in container(document).get("env", [])}


def pod_documents(documents: list[dict]) -> list[dict]:
    return [d for d in documents if d["kind"] in ("Deployment", "Job")]


# --- The chart is well-formed ------------------------------------------------------------------


def test_lint_passes_strictly(helm):
    for values in (None, FULL_VALUES, CUSTODIAN_VALUES):
        result = run_helm(helm, "lint", "--strict", str(CHART), values=values)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_rendered_manifest_is_valid_kubernetes(rendered):
    kubernetes_validate = validator()
    documents = rendered.documents
    assert len(documents) >= 8
    for version in (OLDEST_KUBERNETES, kubernetes_validate.latest_version()):
        for document in documents:
            name = f"{document['kind']}/{document['metadata']['name']}"
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError as error:
                pytest.fail(f"{name}: no schema to check it against ({error.message})")
            except kubernetes_validate.ValidationError as error:
                path = ".".join(str(part) for part in error.path)
                pytest.fail(f"{name} is not valid Kubernetes {version}: {path}: {error.message}")


def test_the_validator_does_catch_a_broken_manifest(default_render):
    """A control: the same check refuses a manifest with a misspelt field and a wrong type."""
    kubernetes_validate = validator()
    web = copy.deepcopy(workload(default_render.documents, "web"))
    web["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, OLDEST_KUBERNETES, strict=True)
    web = copy.deepcopy(workload(default_render.documents, "web"))
    container(web)["readinesProbe"] = container(web).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, OLDEST_KUBERNETES, strict=True)


def test_full_render_has_ingress_with_tls_and_network_policies(full_render, default_render):
    documents = full_render.documents
    ingress = find(documents, "Ingress")
    assert ingress["spec"]["tls"] == [{"hosts": ["livc.example.be"], "secretName": "livc-tls"}]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = find(documents, "Service")
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] == service["spec"]["ports"][0]["name"] == "http"

    policies = {d["metadata"]["name"]: d["spec"] for d in documents if d["kind"] == "NetworkPolicy"}
    everything, web = policies[RELEASE], policies[f"{RELEASE}-web"]
    assert everything["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "livc",
        "app.kubernetes.io/instance": RELEASE,
    }
    assert everything["ingress"] == [] and set(everything["policyTypes"]) == {"Ingress", "Egress"}
    egress_ports = {p["port"] for rule in everything["egress"] for p in rule["ports"]}
    assert {53, 5432, 6379} <= egress_ports
    assert web["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    assert web["ingress"][0]["from"] == FULL_VALUES["networkPolicy"]["ingressFrom"]

    kinds = {d["kind"] for d in default_render.documents}
    assert "Ingress" not in kinds and "NetworkPolicy" not in kinds


# --- Migrations ----------------------------------------------------------------------------------


def test_migrations_run_as_a_hook_before_install_and_upgrade_with_the_owner_url(rendered):
    documents = rendered.documents
    job = workload(documents, "migrate")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    assert command_line(job) == ["livc", "migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"

    env = env_of(job)
    owner = env["LIVC_MIGRATE_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    expected_secret = rendered.values.get("migrations", {}).get("existingSecret", "livc-secrets")
    assert owner == {"name": expected_secret, "key": "LIVC_MIGRATE_DATABASE_URL"}
    # Production settings need the rest, and the migrations grant the role of LIVC_DATABASE_URL.
    for name in APP_SECRET_VARS:
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "livc-secrets", "key": name}
    assert env["LIVC_ENV"]["value"] == "production"


def test_migration_job_needs_nothing_the_release_creates(rendered):
    """A pre-install hook runs before the ConfigMap and ServiceAccount exist: it must not use them."""
    documents = rendered.documents
    spec = pod_spec(workload(documents, "migrate"))
    assert "serviceAccountName" not in spec
    assert spec["automountServiceAccountToken"] is False
    assert "envFrom" not in container(workload(documents, "migrate"))
    configmap = find(documents, "ConfigMap")
    env = env_of(workload(documents, "migrate"))
    assert {name: env[name]["value"] for name in configmap["data"]} == configmap["data"]


# --- Workloads -----------------------------------------------------------------------------------


def test_each_workload_runs_its_command(rendered):
    documents = rendered.documents
    web = command_line(workload(documents, "web"))
    assert web[:2] == ["livc", "serve"]
    port = container(workload(documents, "web"))["ports"][0]
    assert web[web.index("--port") + 1] == str(port["containerPort"]) and port["name"] == "http"
    assert web[web.index("--host") + 1] == "0.0.0.0"
    assert command_line(workload(documents, "cron")) == ["livc", "cron"]
    assert command_line(workload(documents, "relay")) == ["livc", "relay", "--interval", "5"]
    for component, queues in WORKER_CLASSES.items():
        assert command_line(workload(documents, component)) == ["livc", "worker", *queues]


def test_each_queue_class_has_its_own_workers(default_render):
    """default and mail, federation, maintenance: a federation backlog never holds up mails or
    the maintenance jobs; every queue of the platform is served, by one class."""
    from livc.platform.jobs import QUEUES

    workers = [d for d in default_render.documents if d["kind"] == "Deployment"
               and d["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"]
    assert len(workers) == 3
    served = [queue for document in workers for queue in command_line(document)[2:]]
    assert sorted(served) == sorted(QUEUES)
    selectors = [document["spec"]["selector"]["matchLabels"] for document in workers]
    for document in workers:  # each Deployment owns its pods, none of another class
        assert [selects({"matchLabels": selector}, pod_labels(document)) for selector in selectors].count(True) == 1


@pytest.mark.parametrize("classes, message", [
    ({"maintenance": None}, "no class serves the maintenance queue"),
    ({"general": {"queues": ["default"]}}, "no class serves the mail queue"),
    ({"federation": {"queues": ["federation", "mail"]}}, "a queue is listed in two classes"),
], ids=["a class dropped", "a queue left out", "a queue twice"])
def test_every_queue_is_served_by_exactly_one_class(helm, classes, message):
    result = run_helm(helm, "template", RELEASE, str(CHART), values={"worker": {"classes": classes}})
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_cron_is_a_single_replica_replaced_not_rolled(helm):
    documents = render(helm, {"web": {"replicas": 6, "autoscaling": {"enabled": False}},
                              "worker": {"classes": {"general": {"replicas": 4, "autoscaling": {"enabled": False}}}}}).documents
    cron = workload(documents, "cron")
    assert cron["spec"]["replicas"] == 1
    assert cron["spec"]["strategy"] == {"type": "Recreate"}
    assert workload(documents, "web")["spec"]["replicas"] == 6
    assert workload(documents, "worker")["spec"]["replicas"] == 4


def test_web_probes_point_at_healthz_and_readyz(rendered):
    documents = rendered.documents
    web = container(workload(documents, "web"))
    assert web["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert web["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # Liveness must not depend on the database: a database outage must not restart every pod.
    assert web["startupProbe"]["httpGet"]["path"] == "/healthz"
    service = find(documents, "Service", f"{RELEASE}-web")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert (
        service["spec"]["selector"] == workload(documents, "web")["spec"]["selector"]["matchLabels"]
    )


def test_web_has_a_disruption_budget(rendered):
    documents = rendered.documents
    budget = find(documents, "PodDisruptionBudget")
    assert (
        budget["spec"]["selector"]["matchLabels"]
        == workload(documents, "web")["spec"]["selector"]["matchLabels"]
    )
    assert budget["spec"]["maxUnavailable"] == 1


def test_pods_are_non_root_read_only_without_capabilities_or_api_token(rendered):
    documents = rendered.documents
    pods = pod_documents(documents)
    custodian = "custodian" in rendered.values
    assert len(pods) == (8 if custodian else 7)  # web, 3 worker classes, cron, relay, migrate (, custodian)
    for document in pods:
        name = document["metadata"]["name"]
        spec = pod_spec(document)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["automountServiceAccountToken"] is False, name
        for c in spec["containers"]:
            security = c["securityContext"]
            assert security["runAsNonRoot"] is True, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
            if name == f"{RELEASE}-custodian":  # its key volume, and its clients read-only
                assert set(mounts) == {"/tmp", CUSTODIAN_DATA, CUSTODIAN_CLIENTS}
                assert mounts[CUSTODIAN_CLIENTS]["readOnly"] is True
            else:
                assert set(mounts) == {"/tmp"}, name
            assert c["resources"]["requests"]["memory"] and c["resources"]["requests"]["cpu"], name
            assert c["resources"]["limits"]["memory"], name
    account = find(documents, "ServiceAccount", RELEASE)
    assert account["automountServiceAccountToken"] is False
    for component in ("web", "worker", "cron", "relay"):
        assert (
            pod_spec(workload(documents, component))["serviceAccountName"]
            == account["metadata"]["name"]
        )


# --- Settings and secrets --------------------------------------------------------------------------


def test_configmap_holds_only_non_secret_settings_in_production(rendered):
    documents = rendered.documents
    data = find(documents, "ConfigMap")["data"]
    assert data["LIVC_ENV"] == "production"
    assert all(key.startswith("LIVC_") for key in data)
    assert not set(SECRET_VARS) & set(data)
    for component in ("web", "worker", "cron", "relay"):
        sources = container(workload(documents, component))["envFrom"]
        assert sources == [
            {"configMapRef": {"name": find(documents, "ConfigMap")["metadata"]["name"]}}
        ]


def test_no_secret_value_in_the_rendered_output(rendered):
    documents, text = rendered.documents, rendered.text
    assert not [d for d in documents if d["kind"] == "Secret"]
    for scheme in ("postgresql://", "postgres://", "redis://", "rediss://", "sqlite://", "smtp://", "smtps://"):
        assert scheme not in text
    for document in pod_documents(documents):
        for name, entry in env_of(document).items():
            if name in SECRET_VARS:
                assert set(entry) == {"name", "valueFrom"}, f"{name} has a literal value"
                assert set(entry["valueFrom"]) == {"secretKeyRef"}


def test_app_pods_never_receive_the_owner_url(rendered):
    """Web, worker, cron and relay connect as the ordinary role; only the migration Job gets the owner."""
    documents = rendered.documents
    for component in ("web", "worker", "cron", "relay"):
        document = workload(documents, component)
        assert APP_SECRET_VARS <= set(env_of(document))
        assert "LIVC_MIGRATE_DATABASE_URL" not in env_of(document), component
        assert not [s for s in container(document)["envFrom"] if "secretRef" in s], component
        for entry in env_of(document).values():
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            assert ref is None or ref["key"] != "LIVC_MIGRATE_DATABASE_URL", component


def test_secret_name_and_keys_follow_values(helm):
    documents = render(
        helm, {"existingSecret": "cell-secrets", "secretKeys": {"databaseUrl": "app-dsn"}}
    ).documents
    ref = env_of(workload(documents, "web"))["LIVC_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "cell-secrets", "key": "app-dsn"}
    owner = env_of(workload(documents, "migrate"))["LIVC_MIGRATE_DATABASE_URL"]["valueFrom"][
        "secretKeyRef"
    ]
    assert owner == {"name": "cell-secrets", "key": "LIVC_MIGRATE_DATABASE_URL"}


def test_a_settings_change_rolls_the_pods(helm, default_render):
    changed = render(helm, {"config": {"logLevel": "DEBUG"}}).documents

    def checksum(documents):
        return workload(documents, "web")["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]

    assert checksum(changed) != checksum(default_render.documents)


# --- The key custodian ------------------------------------------------------------------------------


def volumes_of(document: dict) -> dict[str, dict]:
    return {volume["name"]: volume for volume in pod_spec(document).get("volumes", [])}


def secret_refs(document: dict) -> set[str]:
    """Every Secret a pod reads, through its env or its volumes."""
    names = {
        entry["valueFrom"]["secretKeyRef"]["name"]
        for entry in env_of(document).values()
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    names |= {source["secretRef"]["name"] for source in container(document).get("envFrom", []) if "secretRef" in source}
    return names | {v["secret"]["secretName"] for v in volumes_of(document).values() if "secret" in v}


def pod_labels(document: dict) -> dict[str, str]:
    return document["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions In/NotIn) picks ``labels``."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        inside = value in expression["values"]
        if (expression["operator"] == "In" and not inside) or (expression["operator"] == "NotIn" and inside):
            return False
    return True


def policies(documents: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d["spec"] for d in documents if d["kind"] == "NetworkPolicy"}


def test_the_custodian_is_off_by_default(default_render, full_render):
    for documents in (default_render.documents, full_render.documents):
        assert not [d for d in documents if "custodian" in d["metadata"]["name"]]
        for component in ("web", "worker"):
            assert not [name for name in env_of(workload(documents, component)) if "CUSTODIAN" in name]


def test_the_custodian_runs_alone_with_its_own_volume_and_secret(custodian_render):
    """One replica replaced, not rolled (its tokens live in its memory, its volume mounts once);
    its key file on a claim of its own that outlives the release; its clients file from its own
    Secret; none of the platform's settings or secrets."""
    from livc.federation.custodian.settings import load_custodian_settings

    documents = custodian_render.documents
    custodian = workload(documents, "custodian")
    assert custodian["spec"]["replicas"] == 1 and custodian["spec"]["strategy"] == {"type": "Recreate"}
    line = command_line(custodian)
    assert line[:3] == ["livc", "custodian", "serve"]
    port = container(custodian)["ports"][0]
    assert line[line.index("--port") + 1] == str(port["containerPort"]) and line[line.index("--host") + 1] == "0.0.0.0"

    volumes = volumes_of(custodian)
    claim = find(documents, "PersistentVolumeClaim", f"{RELEASE}-custodian")
    assert volumes["custodian-data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    clients = volumes["custodian-clients"]["secret"]
    assert clients["secretName"] == "livc-custodian"
    assert clients["items"] == [{"key": "clients.json", "path": "clients.json"}]
    assert clients["defaultMode"] & 0o007 == 0  # the custodian refuses a file others may read

    # Its settings, as the custodian reads them from that environment: state on the volume,
    # clients from the Secret.
    env = env_of(custodian)
    assert "envFrom" not in container(custodian)
    assert secret_refs(custodian) == {"livc-custodian"}
    assert {name for name in env if name.startswith("LIVC_")} == {
        name for name in env if name.startswith("LIVC_CUSTODIAN_")
    }
    settings = load_custodian_settings({
        name.removeprefix("LIVC_CUSTODIAN_"): entry["value"] for name, entry in env.items() if name.startswith("LIVC_CUSTODIAN_")
    })
    assert settings.keys_path.parent.as_posix() == settings.audit_path.parent.as_posix() == CUSTODIAN_DATA
    assert settings.clients_path.as_posix() == f"{CUSTODIAN_CLIENTS}/clients.json"

    account = find(documents, "ServiceAccount", pod_spec(custodian)["serviceAccountName"])
    assert account["metadata"]["name"] != pod_spec(workload(documents, "web"))["serviceAccountName"]
    assert account["automountServiceAccountToken"] is False


def test_no_other_pod_mounts_or_reads_the_custodians_files(custodian_render):
    documents = custodian_render.documents
    claim = find(documents, "PersistentVolumeClaim")["metadata"]["name"]
    for component in ("web", "worker", "cron", "migrate"):
        document = workload(documents, component)
        assert "livc-custodian" not in secret_refs(document), component
        assert claim not in {v.get("persistentVolumeClaim", {}).get("claimName") for v in volumes_of(document).values()}
        assert not [name for name in env_of(document) if name.startswith("LIVC_CUSTODIAN_") and name not in (
            "LIVC_CUSTODIAN_URL", "LIVC_CUSTODIAN_CLIENT_ID", "LIVC_CUSTODIAN_CLIENT_SECRET")], component


def test_web_and_worker_reach_the_custodian_service_with_the_platforms_client(custodian_render):
    documents = custodian_render.documents
    service = find(documents, "Service", f"{RELEASE}-custodian")
    custodian = workload(documents, "custodian")
    assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(custodian))
    [port] = service["spec"]["ports"]
    assert port["targetPort"] == container(custodian)["ports"][0]["name"]
    address = f"http://{service['metadata']['name']}.livc.svc:{port['port']}"
    for component in ("web", "worker"):
        env = env_of(workload(documents, component))
        assert env["LIVC_CUSTODIAN_URL"] == {"name": "LIVC_CUSTODIAN_URL", "value": address}
        for name in ("LIVC_CUSTODIAN_CLIENT_ID", "LIVC_CUSTODIAN_CLIENT_SECRET"):
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "livc-secrets", "key": name}
    for component in ("cron", "relay", "migrate"):  # none calls the custodian
        assert not [name for name in env_of(workload(documents, component)) if "CUSTODIAN" in name], component


def test_the_custodian_is_ready_on_its_health_answer_and_alive_while_it_listens(custodian_render):
    probes = container(workload(custodian_render.documents, "custodian"))
    assert probes["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "custodian"}
    assert probes["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "custodian"}
    # Not the file checks: a restart would not mend a broken key file.
    assert probes["livenessProbe"]["tcpSocket"] == {"port": "custodian"}


def custodian_settings_of(entry: dict):
    """The custodian's settings as a container's LIVC_CUSTODIAN_* env gives them."""
    from livc.federation.custodian.settings import load_custodian_settings

    env = {item["name"]: item for item in entry.get("env", [])}
    return load_custodian_settings({
        name.removeprefix("LIVC_CUSTODIAN_"): item["value"] for name, item in env.items() if name.startswith("LIVC_CUSTODIAN_")
    })


def test_the_key_file_is_created_only_on_a_first_install_that_asks_for_it(helm, custodian_render):
    """By default the custodian serves the key file on its volume and makes none (``serve``
    refuses to start without one); custodian.createKey adds an init container running
    ``livc custodian init``, which writes the very file the service reads, and nothing else."""
    usual = workload(custodian_render.documents, "custodian")
    assert "initContainers" not in pod_spec(usual)
    assert "--create-key" not in command_line(usual) and "LIVC_CUSTODIAN_CREATE_KEY" not in env_of(usual)
    assert custodian_settings_of(container(usual)).create_key is False

    values = copy.deepcopy(CUSTODIAN_VALUES)
    values["custodian"]["createKey"] = True
    linted = run_helm(helm, "lint", "--strict", str(CHART), values=values)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    first = workload(render(helm, values).documents, "custodian")
    [init] = pod_spec(first)["initContainers"]
    assert [*init["command"], *init["args"]] == ["livc", "custodian", "init"]
    assert init["image"] == container(first)["image"]
    serving = custodian_settings_of(container(first))
    assert custodian_settings_of(init).keys_path == serving.keys_path
    assert serving.create_key is False  # the service itself still never makes a key
    mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
    assert mounts == {"/tmp": "tmp", CUSTODIAN_DATA: "custodian-data"}  # not the clients Secret
    assert not [entry for entry in init["env"] if "valueFrom" in entry]
    security = init["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"]["drop"] == ["ALL"] and init["resources"]["limits"]["memory"]
    # Otherwise the pod is the usual one.
    assert command_line(first) == command_line(usual) and container(first) == container(usual)
    kubernetes_validate = validator()
    for version in (OLDEST_KUBERNETES, kubernetes_validate.latest_version()):
        kubernetes_validate.validate(first, version, strict=True)


@pytest.mark.parametrize("network_policy", [True, False], ids=["release policies on", "release policies off"])
def test_only_web_and_worker_pods_of_the_release_may_reach_the_custodian(helm, network_policy):
    values = copy.deepcopy(CUSTODIAN_VALUES)
    values["networkPolicy"]["enabled"] = network_policy
    documents = render(helm, values).documents
    custodian = workload(documents, "custodian")
    port = container(custodian)["ports"][0]
    policy = policies(documents)[f"{RELEASE}-custodian"]
    assert selects(policy["podSelector"], pod_labels(custodian))
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    [rule] = policy["ingress"]
    assert rule["ports"] == [{"port": port["name"], "protocol": "TCP"}]

    def admitted(labels: dict[str, str]) -> bool:
        return any(selects(peer["podSelector"], labels) for peer in rule["from"] if set(peer) == {"podSelector"})

    assert all(set(peer) == {"podSelector"} for peer in rule["from"])  # no namespace or address peers
    for component in ("web", "worker"):
        assert admitted(pod_labels(workload(documents, component))), component
    for component in ("cron", "relay", "migrate", "custodian"):
        labels = pod_labels(workload(documents, component)) if component != "migrate" else (
            workload(documents, "migrate")["spec"]["template"]["metadata"]["labels"])
        assert not admitted(labels), component
    other_release = {**pod_labels(workload(documents, "web")), "app.kubernetes.io/instance": "another"}
    assert not admitted(other_release)
    # Its own egress: DNS only.
    assert {p["port"] for egress in policy["egress"] for p in egress["ports"]} == {53}

    if network_policy:  # the platform's policy leaves the custodian alone and lets web and worker out to it
        platform = policies(documents)[RELEASE]
        assert not selects(platform["podSelector"], pod_labels(custodian))
        assert selects(platform["podSelector"], pod_labels(workload(documents, "web")))
        [to_custodian] = [egress for egress in platform["egress"] if "to" in egress]
        assert selects(to_custodian["to"][0]["podSelector"], pod_labels(custodian))
        assert to_custodian["ports"] == [{"port": port["containerPort"], "protocol": "TCP"}]


def test_the_rendered_settings_reach_the_custodian_in_production(helm, custodian_render):
    """ConfigMap, web's literal env and the Secret's variables pass livc's production checks,
    and the platform's custodian is then the in-cluster service, with its client."""
    from livc.federation.custodian_client import CustodianClient, custodian_for
    from livc.platform.settings import load_settings

    documents = custodian_render.documents
    for component in ("web", "worker"):
        env = env_of(workload(documents, component))
        literal = {name: entry["value"] for name, entry in env.items() if "value" in entry and name.startswith("LIVC_")}
        from_secret = {name: FAKE_SECRETS[name] for name, entry in env.items() if "valueFrom" in entry}
        data = {**find(documents, "ConfigMap")["data"], **literal, **from_secret}
        settings = load_settings({key.removeprefix("LIVC_").lower(): value for key, value in data.items()})
        assert settings.production
        client = custodian_for(settings)
        assert isinstance(client, CustodianClient)
        assert client.url == env["LIVC_CUSTODIAN_URL"]["value"] and client.client_id == "livc-platform"


def test_a_custodian_run_elsewhere_is_reached_at_its_address(helm):
    documents = render(helm, {"custodian": {"url": "https://custodian.example.be"}}).documents
    assert not [d for d in documents if "custodian" in d["metadata"]["name"]]
    env = env_of(workload(documents, "worker"))
    assert env["LIVC_CUSTODIAN_URL"]["value"] == "https://custodian.example.be"
    assert env["LIVC_CUSTODIAN_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "livc-secrets"
    both = run_helm(helm, "template", RELEASE, str(CHART),
                    values={"custodian": {"enabled": True, "url": "https://custodian.example.be"}})
    assert both.returncode != 0 and "not both" in both.stderr


# --- Bad values are refused at template time --------------------------------------------------------

BAD_VALUES = {
    "replicas as text": ("web:\n  replicas: two\n", "web.replicas"),
    "replicas as quoted text": ('web:\n  replicas: "2"\n', "web.replicas"),
    "no existing secret": ("existingSecret: null\n", "existingSecret"),
    "empty existing secret": ('existingSecret: ""\n', "existingSecret"),
    "a second scheduler": ("cron:\n  replicas: 2\n", "cron"),
    "a secret in plain config": (
        "config:\n  extra:\n    LIVC_DATABASE_URL: postgresql://u:p@db/livc\n",
        "config.extra",
    ),
    "a secret value at the top": ("secretKey: abcdefabcdefabcdefabcdefabcdefabcdef\n", "secretKey"),
    "ingress without TLS": (
        "ingress:\n  enabled: true\n  host: livc.example.be\n",
        "ingress.tls.secretName",
    ),
    "running as root": ("podSecurityContext:\n  runAsUser: 0\n", "podSecurityContext.runAsUser"),
    "no memory limit": (
        "web:\n  resources:\n    limits:\n      memory: null\n",
        "web.resources.limits",
    ),
    "unknown queue": ("worker:\n  classes:\n    general:\n      queues: [reports]\n", "worker.classes.general.queues"),
    "a worker class without queues": ("worker:\n  classes:\n    general:\n      queues: []\n", "worker.classes.general.queues"),
    "the old single worker's queues": ("worker:\n  queues: [default]\n", "worker"),
    "redis that does not persist": ("redis:\n  persistent: false\n", "redis.persistent"),
    "redis persistence unsaid": ("redis:\n  persistent: null\n", "persistent"),
    "autoscaling to no pod": ("web:\n  autoscaling:\n    minReplicas: 0\n", "web.autoscaling.minReplicas"),
    "metrics on a privileged port": ("metrics:\n  port: 80\n", "metrics.port"),
    "a second custodian": ("custodian:\n  enabled: true\n  replicas: 2\n", "custodian"),
    "custodian without threads": ("custodian:\n  threads: 0\n", "custodian.threads"),
    "custodian key creation as text": ('custodian:\n  createKey: "yes"\n', "custodian.createKey"),
    "custodian address without scheme": ("custodian:\n  url: custodian:5100\n", "custodian.url"),
    "custodian client secret in plain config": (
        "config:\n  extra:\n    LIVC_CUSTODIAN_CLIENT_SECRET: abcdefabcdefabcdefabcdefabcdefabcdef\n",
        "config.extra",
    ),
}


@pytest.mark.parametrize("values_text, field", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_refuses_bad_values(helm, values_text, field):
    result = run_helm(helm, "template", RELEASE, str(CHART), values_text=values_text)
    assert result.returncode != 0, f"accepted:\n{values_text}"
    assert "schema" in result.stderr, result.stderr
    assert field in result.stderr, result.stderr


def test_chart_agrees_with_the_platform():
    """Queues, log levels and locales the schema allows are the platform's own; the worker's
    grace period outlasts a job."""
    from livc.platform.jobs import JOB_TIMEOUT, QUEUES
    from livc.platform.settings import Settings

    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]
    classes = schema["worker"]["properties"]["classes"]["additionalProperties"]
    assert classes["properties"]["queues"]["items"]["enum"] == list(QUEUES)
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert re.search(r'define "livc.queues" -}}(.*?){{', helpers).group(1).split() == list(QUEUES)
    config = schema["config"]["properties"]
    assert config["logLevel"]["enum"] == list(
        get_args(Settings.model_fields["log_level"].annotation)
    )
    assert config["defaultLocale"]["enum"] == list(
        get_args(Settings.model_fields["default_locale"].annotation)
    )
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["worker"]["terminationGracePeriodSeconds"] > JOB_TIMEOUT


def test_the_rendered_settings_start_the_app_in_production(helm):
    """The ConfigMap plus the Secret's variables pass livc's own production checks; without an
    ingress host or config.publicUrl the app names the missing LIVC_PUBLIC_URL."""
    from livc.platform.settings import ConfigurationError, load_settings

    secrets = {"secret_key": "s" * 40, "database_url": "postgresql://app@db/livc",
               "redis_url": "redis://redis:6379/0", "smtp_url": "smtp://mail:587",
               "master_key": base64.urlsafe_b64encode(b"k" * 32).decode()}

    def settings_of(documents):
        data = find(documents, "ConfigMap")["data"]
        named = {key.removeprefix("LIVC_").lower(): value for key, value in data.items()}
        return load_settings({**named, **secrets})

    full = settings_of(render(helm, FULL_VALUES).documents)
    assert full.production and full.public_url == "https://livc.example.be"
    with pytest.raises(ConfigurationError, match="LIVC_PUBLIC_URL"):
        settings_of(render(helm).documents)


# --- Autoscaling ---------------------------------------------------------------------------------


def autoscalers(documents: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == "HorizontalPodAutoscaler"}


def test_web_and_busy_worker_classes_scale_on_cpu(default_render):
    """On by default for web and the default+mail and federation workers (maintenance: one pod);
    an autoscaled Deployment leaves its replica count to the autoscaler (no tug of war at each
    upgrade)."""
    documents = default_render.documents
    scalers = autoscalers(documents)
    assert set(scalers) == {f"{RELEASE}-web", f"{RELEASE}-worker-general", f"{RELEASE}-worker-federation"}
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for name, scaler in scalers.items():
        assert scaler["apiVersion"] == "autoscaling/v2"
        target = scaler["spec"]["scaleTargetRef"]
        deployment = find(documents, "Deployment", target["name"])
        assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert "replicas" not in deployment["spec"], name
        [metric] = scaler["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
        assert container(deployment)["resources"]["requests"]["cpu"]  # what utilisation is measured against
    web = values["web"]["autoscaling"]
    spec = scalers[f"{RELEASE}-web"]["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (web["minReplicas"], web["maxReplicas"])
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == web["targetCPUUtilizationPercentage"]
    assert spec["minReplicas"] >= 2  # the disruption budget keeps one web pod while another moves
    assert workload(documents, "worker-maintenance")["spec"]["replicas"] == 1


def test_autoscaling_follows_values_and_can_be_turned_off(helm):
    documents = render(helm, {
        "web": {"autoscaling": {"enabled": False}, "replicas": 3},
        "worker": {"classes": {"federation": {"autoscaling": {"minReplicas": 2, "maxReplicas": 9,
                                                              "targetCPUUtilizationPercentage": 50}}}},
    }).documents
    scalers = autoscalers(documents)
    assert f"{RELEASE}-web" not in scalers and workload(documents, "web")["spec"]["replicas"] == 3
    spec = scalers[f"{RELEASE}-worker-federation"]["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 9)
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    upside_down = run_helm(helm, "template", RELEASE, str(CHART),
                           values={"web": {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}}})
    assert upside_down.returncode != 0 and "minReplicas (5) is above maxReplicas (3)" in upside_down.stderr


# --- Redis -----------------------------------------------------------------------------------------


def test_redis_persistence_is_a_required_acknowledgement():
    """The chart runs no Redis, but a Redis restarted empty loses queued mails, the failed-job
    list and the offboarding's record: values must say it persists, and the README says how."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert "redis" in schema["required"]
    assert schema["properties"]["redis"]["required"] == ["persistent"]
    assert schema["properties"]["redis"]["properties"]["persistent"]["const"] is True
    assert yaml.safe_load((CHART / "values.yaml").read_text())["redis"] == {"persistent": True}
    readme = (CHART / "README.md").read_text()
    assert "redis.persistent" in readme and "appendonly yes" in readme


# --- Metrics and alerts ------------------------------------------------------------------------------

METRICS_PORT = 9100
# The processes that serve metrics (livc serve, livc worker); cron and relay do not.
METRICS_COMPONENTS = ("web", "worker", "worker-federation", "worker-maintenance")
ALERTS = CHART / "alerts" / "livc.rules.yaml"


def test_app_pods_serve_metrics_on_their_own_port(rendered):
    documents = rendered.documents
    assert find(documents, "ConfigMap")["data"]["LIVC_METRICS_PORT"] == str(METRICS_PORT)
    for component in METRICS_COMPONENTS:
        document = workload(documents, component)
        ports = {port["name"]: port["containerPort"] for port in container(document).get("ports", [])}
        assert ports["metrics"] == METRICS_PORT, component
        annotations = document["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(METRICS_PORT)
    # Never through the web Service (and so never through the ingress).
    assert [port["name"] for port in find(documents, "Service", f"{RELEASE}-web")["spec"]["ports"]] == ["http"]
    for component in ("cron", "relay", "migrate") + (("custodian",) if "custodian" in rendered.values else ()):
        document = workload(documents, component)
        assert "prometheus.io/scrape" not in document["spec"]["template"]["metadata"].get("annotations", {})
        assert "metrics" not in {port["name"] for port in container(document).get("ports", [])}
    kinds = {d["kind"] for d in documents}
    assert not {"PodMonitor", "PrometheusRule"} & kinds  # off by default: their CRDs may not exist


def test_metrics_can_be_turned_off(helm):
    documents = render(helm, {"metrics": {"enabled": False}, "networkPolicy": {"enabled": True}}).documents
    assert "LIVC_METRICS_PORT" not in find(documents, "ConfigMap")["data"]
    web = workload(documents, "web")
    assert [port["name"] for port in container(web)["ports"]] == ["http"]
    assert "ports" not in container(workload(documents, "worker"))
    assert "prometheus.io/scrape" not in web["spec"]["template"]["metadata"]["annotations"]
    assert f"{RELEASE}-metrics" not in policies(documents)


def test_network_policy_lets_prometheus_reach_the_metrics_port_only(helm):
    scraper = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    documents = render(helm, {"networkPolicy": {"enabled": True, "metricsFrom": scraper}}).documents
    policy = policies(documents)[f"{RELEASE}-metrics"]
    [rule] = policy["ingress"]
    assert rule == {"ports": [{"port": "metrics", "protocol": "TCP"}], "from": scraper}
    for component in METRICS_COMPONENTS:
        assert selects(policy["podSelector"], pod_labels(workload(documents, component))), component
    assert not selects(policy["podSelector"], workload(documents, "migrate")["spec"]["template"]["metadata"]["labels"])
    for component in ("cron", "relay"):
        assert not selects(policy["podSelector"], pod_labels(workload(documents, component))), component


def test_pod_monitor_and_alert_rules_when_asked(helm):
    documents = render(helm, {"metrics": {
        "podMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    }}).documents
    monitor = find(documents, "PodMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    for component in METRICS_COMPONENTS:
        assert selects(monitor["spec"]["selector"], pod_labels(workload(documents, component))), component
    rule = find(documents, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # The very rules of the plain file, with Prometheus's own {{ $labels }} templates intact.
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text())
    assert "{{ $labels.queue }}" in yaml.safe_dump(rule["spec"])


def alert_rules() -> dict[str, dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_the_example_alerts_cover_what_operators_must_hear_of():
    rules = alert_rules()
    assert set(rules) == {"LivcWebErrors", "LivcJobFailures", "LivcQueueBacklog", "LivcOutboxStale",
                          "LivcCustodianDown", "LivcMailsFailed"}
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert rule["expr"].count("(") == rule["expr"].count(")"), name
    assert 'status=~"5.."' in rules["LivcWebErrors"]["expr"]
    assert 'queue="mail"' in rules["LivcMailsFailed"]["expr"]
    assert "-custodian" in rules["LivcCustodianDown"]["expr"]  # the chart's custodian Deployment


def test_the_alerts_use_the_metrics_livc_exports():
    """Every livc_* series the rules read is one livc.platform.metrics defines."""
    import importlib.util

    if importlib.util.find_spec("livc.platform.metrics") is None:
        pytest.skip("livc.platform.metrics does not exist yet")
    source = (REPO / "platform" / "metrics.py").read_text()
    used = {re.sub(r"_(count|sum|bucket|total)$", "", name)
            for rule in alert_rules().values() for name in re.findall(r"\blivc_[a-z_]+", rule["expr"])}
    missing = sorted(name for name in used if f'"{name}' not in source and f'"{name.removeprefix("livc_")}' not in source)
    assert not missing, f"alert rules read series livc does not export: {missing}"


# --- The image the chart runs ------------------------------------------------------------------------


def test_the_chart_runs_the_image_as_the_dockerfile_builds_it():
    """The chart's uid and gid are the image's user; its ports are the image's; the image's
    default command is the web's."""
    dockerfile = (REPO / "Dockerfile").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    uid = re.search(r"^ARG LIVC_UID=(\d+)$", dockerfile, re.M).group(1)
    gid = re.search(r"^ARG LIVC_GID=(\d+)$", dockerfile, re.M).group(1)
    assert re.search(r"^USER \$\{LIVC_UID\}:\$\{LIVC_GID\}$", dockerfile, re.M)
    security = values["podSecurityContext"]
    assert (security["runAsUser"], security["runAsGroup"], security["fsGroup"]) == (int(uid), int(gid), int(gid))
    exposed = {int(port) for port in re.search(r"^EXPOSE (.+)$", dockerfile, re.M).group(1).split()}
    assert {values["web"]["port"], values["metrics"]["port"], values["custodian"]["port"]} <= exposed
    assert 'ENTRYPOINT ["livc"]' in dockerfile and 'CMD ["serve"]' in dockerfile
    # Written to at run time only under /tmp (HOME, TMPDIR) and the data volumes.
    assert "HOME=/tmp" in dockerfile and "TMPDIR=/tmp" in dockerfile


def test_the_relay_hands_the_outbox_to_redis_and_may_run_twice(helm):
    """`livc relay` runs beside the workers; a second replica is safe (each row goes once)."""
    documents = render(helm, {"relay": {"replicas": 2, "interval": 2.5}}).documents
    relay = workload(documents, "relay")
    assert relay["spec"]["replicas"] == 2
    assert command_line(relay) == ["livc", "relay", "--interval", "2.5"]
    assert APP_SECRET_VARS <= set(env_of(relay))
    refused = run_helm(helm, "template", RELEASE, str(CHART), values_text="relay:\n  replicas: 0\n")
    assert refused.returncode != 0 and "relay.replicas" in refused.stderr
