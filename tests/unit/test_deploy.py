"""The Kubernetes manifests (deploy/), the Prometheus and Grafana files and docker-compose.yml
agree with the services: ports, settings, consumer groups, topics, health paths, metric names.

The overlays are rendered here by a small subset of kustomize (resources, components,
generators, strategic-merge patches, `$patch: delete`, replacements): enough for these files,
and `kubectl kustomize deploy/overlays/<name>` renders the same objects."""

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from newsflow_contracts import topics
from newsflow_enrichment.settings import Settings as EnrichmentSettings
from newsflow_ingest.settings import Settings as IngestSettings
from newsflow_publication.settings import Settings as PublicationSettings
from newsflow_site.settings import Settings as SiteSettings
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MONITORING = DEPLOY / "monitoring"
OVERLAYS = ("local", "production")
SETTINGS: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "enrichment": EnrichmentSettings,
    "publication": PublicationSettings,
    "related": PublicationSettings,
    "site": SiteSettings,
}
"""Every process deployed, by its name; `related` is publication's Related indexer."""
IMAGES = {"related": "newsflow-publication"}
"""A process run from another service's image (by default its own, `newsflow-<name>`)."""
COMMANDS = {"related": ["newsflow-publication", "related"]}
"""A process's command, where it is not the image's own (`newsflow-<service> serve`)."""
SERVES_HTTP_TRAFFIC = {"ingest", "publication", "site"}
MEMORY_BUDGET_MI = {"ingest": 200, "enrichment": 300, "publication": 200, "related": 200, "site": 120}
"""The issue's resident memory targets; limits may exceed them by at most a quarter."""

Doc = dict[str, Any]


def default(service: str, field: str) -> Any:
    return SETTINGS[service].model_fields[field].default


def env_fields(service: str) -> set[str]:
    return {f"NEWSFLOW_{name.upper()}" for name in SETTINGS[service].model_fields}


def consumed(service: str) -> dict[str, set[str]]:
    """Consumer group (its settings field's default) -> the topics that group reads."""
    groups: dict[str, dict[str, set[topics.Topic]]] = {
        "ingest": {"submissions_group": {topics.ARTICLE_SUBMITTED}},
        "enrichment": {"enrichment_group": {topics.ARTICLE_INGESTED}},
        "publication": {
            "publication_group": {topics.ARTICLE_ENRICHED, topics.ARTICLE_RETRACTED},
            "popular_group": {topics.PAGEVIEW_RECORDED},
            "webhook_group": {topics.ARTICLE_PUBLISHED},
        },
        "related": {},  # the published topic, every partition, without a group
        "site": {},
    }
    return {
        default(service, field): {topic.name for topic in group_topics}
        for field, group_topics in groups[service].items()
    }


def max_consumers(service: str) -> int:
    """A consumer holding no partition is not ready: no more pods than the smallest topic has
    (a service without consumers, the reader site, has no such bound)."""
    by_name = {topic.name: topic for topic in topics.ALL_TOPICS}
    partitions = [by_name[name].partitions for names in consumed(service).values() for name in names]
    return min(partitions, default=sys.maxsize)


# --- a small kustomize ---------------------------------------------------------------------


def load_docs(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization(directory: Path) -> Doc:
    doc: Doc = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return doc


def key(doc: Doc) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge as far as these files need it: maps merge, lists of named items merge
    by name (containers, env), any other list is replaced (envFrom, and every list of a CRD)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for name, value in patch.items():
            merged[name] = merge(base[name], value) if name in base else value
        return merged
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(item, dict) and "name" in item for item in [*base, *patch])
    ):
        by_name = {item["name"]: item for item in base}
        for item in patch:
            by_name[item["name"]] = merge(by_name[item["name"]], item) if item["name"] in by_name else item
        return list(by_name.values())
    return copy.deepcopy(patch)


def field_values(doc: Any, path: list[str]) -> list[tuple[Any, str]]:
    """(container, key) pairs a kustomize field path with `*` names, where the field exists."""
    if len(path) == 1:
        return [(doc, path[0])] if isinstance(doc, dict) and path[0] in doc else []
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(doc, list):
        return [pair for item in doc for pair in field_values(item, rest)]
    if isinstance(doc, dict) and head in doc:
        return field_values(doc[head], rest)
    return []


def generated(directory: Path, spec: Doc) -> list[Doc]:
    configmaps = []
    for generator in spec.get("configMapGenerator", []):
        data = dict(literal.split("=", 1) for literal in generator.get("literals", []))
        data |= {name: (directory / name).read_text() for name in generator.get("files", [])}
        labels = generator.get("options", {}).get("labels", {})
        configmaps.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"], "labels": labels},
                "data": data,
            }
        )
    return configmaps


def apply(directory: Path, spec: Doc, docs: list[Doc]) -> list[Doc]:
    for patch_ref in spec.get("patches", []):
        for patch in load_docs(directory / patch_ref["path"]):
            matches = [doc for doc in docs if key(doc) == key(patch)]
            assert matches, f"{directory / patch_ref['path']}: patches {key(patch)}, which does not exist"
            if patch.get("$patch") == "delete":
                docs = [doc for doc in docs if key(doc) != key(patch)]
            else:
                docs = [merge(doc, patch) if key(doc) == key(patch) else doc for doc in docs]
    for replacement in spec.get("replacements", []):
        source = replacement["source"]
        [origin] = [doc for doc in docs if key(doc) == (source["kind"], source["name"])]
        [(holder, field)] = field_values(origin, source["fieldPath"].split("."))
        for target in replacement["targets"]:
            for doc in docs:
                if doc["kind"] == target["select"]["kind"]:
                    for path in target["fieldPaths"]:
                        for container, name in field_values(doc, path.split(".")):
                            container[name] = holder[field]
    return docs


def render(directory: Path, inherited: tuple[Doc, ...] = ()) -> list[Doc]:
    """The objects `kustomize build directory` makes; a component works on what it inherits."""
    spec = kustomization(directory)
    docs = copy.deepcopy(list(inherited))
    for resource in spec.get("resources", []):
        path = directory / resource
        docs += render(path) if path.is_dir() else load_docs(path)
    docs += generated(directory, spec)
    for component in spec.get("components", []):
        assert kustomization(directory / component)["kind"] == "Component"
        docs = render(directory / component, tuple(docs))
    docs = apply(directory, spec, docs)
    if "namespace" in spec:
        for doc in docs:
            doc["metadata"]["namespace"] = spec["namespace"]
    keys = [key(doc) for doc in docs]
    assert len(keys) == len(set(keys)), f"{directory}: an object is defined twice"
    return docs


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    return request.param, render(DEPLOY / "overlays" / request.param)


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def container(deployment: Doc) -> Doc:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return only


def mebibytes(quantity: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)", quantity)
    assert match, f"memory {quantity}: write it in Mi or Gi"
    return float(match[1]) * (1024 if match[2] == "Gi" else 1)


# --- kustomize layout --------------------------------------------------------------------------


def kustomization_dirs() -> list[Path]:
    return sorted(path.parent for path in DEPLOY.rglob("kustomization.yaml"))


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda path: str(path.relative_to(DEPLOY)))
def test_a_kustomization_names_every_file_beside_it_and_only_files_that_exist(directory: Path) -> None:
    spec = kustomization(directory)
    named = set(spec.get("resources", [])) | set(spec.get("components", []))
    named |= {patch["path"] for patch in spec.get("patches", [])}
    named |= {name for generator in spec.get("configMapGenerator", []) for name in generator.get("files", [])}
    for name in named:
        assert (directory / name).exists(), f"{directory}/kustomization.yaml names {name}, which is missing"
    beside = {
        path.name for path in directory.iterdir() if path.is_file() and path.name != "kustomization.yaml"
    }
    beside = {name for name in beside if name.endswith((".yaml", ".yml", ".json"))}
    assert beside <= named, f"{directory}: {sorted(beside - named)} not in kustomization.yaml"


def test_the_overlays_deploy_every_service() -> None:
    for name in OVERLAYS:
        docs = render(DEPLOY / "overlays" / name)
        assert set(of_kind(docs, "Deployment")) == set(SETTINGS), name
        assert set(of_kind(docs, "Service")) == set(SETTINGS), name


# --- Deployments and Services ------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_ports_labels_and_probes_agree_with_the_service(overlay: tuple[str, list[Doc]], service: str) -> None:
    _, docs = overlay
    deployment = of_kind(docs, "Deployment")[service]
    port = default(service, f"{service}_port")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == service
    assert labels["app.kubernetes.io/part-of"] == "newsflow"
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()

    app = container(deployment)
    assert app["ports"] == [{"name": "http", "containerPort": port}]
    assert app["image"] == IMAGES.get(service, f"newsflow-{service}")
    assert app.get("command") == COMMANDS.get(service)
    env = {item["name"]: item.get("value") for item in app.get("env", [])}
    assert env["NEWSFLOW_HTTP_HOST"] == "0.0.0.0", "the probes and Prometheus reach the pod's address"
    for probe, path in (
        ("startupProbe", "/livez"),
        ("livenessProbe", "/livez"),
        ("readinessProbe", "/readyz"),
    ):
        assert app[probe]["httpGet"] == {"path": path, "port": "http"}, f"{service} {probe}"

    svc = of_kind(docs, "Service")[service]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert svc["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_stop_resources_and_rollout(overlay: tuple[str, list[Doc]], service: str) -> None:
    _, docs = overlay
    deployment = of_kind(docs, "Deployment")[service]
    pod = deployment["spec"]["template"]["spec"]
    app = container(deployment)
    assert pod["terminationGracePeriodSeconds"] == 30
    if service in SERVES_HTTP_TRAFFIC:
        command = app["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "sleep" and 0 < int(command[1]) <= 10
    else:
        assert "lifecycle" not in app

    resources = app["resources"]
    limit = mebibytes(resources["limits"]["memory"])
    assert MEMORY_BUDGET_MI[service] <= limit <= MEMORY_BUDGET_MI[service] * 1.25
    assert mebibytes(resources["requests"]["memory"]) <= limit
    assert "cpu" in resources["requests"], "CPU utilisation targets are relative to the request"
    assert "cpu" not in resources["limits"]

    strategy = deployment["spec"]["strategy"]["rollingUpdate"]
    if consumed(service):
        assert strategy == {"maxSurge": 0, "maxUnavailable": 1}, "a surge pod may hold no partition"
    else:
        assert strategy == {"maxSurge": 1, "maxUnavailable": 0}, "nothing to wait for: never fewer pods"
    assert deployment["spec"]["replicas"] <= max_consumers(service)


# --- settings named in the manifests and in compose -----------------------------------------


def documented_secret_keys() -> set[str]:
    return set(re.findall(r"--from-literal=(NEWSFLOW_[A-Z0-9_]+)=", (DEPLOY / "README.md").read_text()))


def test_every_variable_in_the_manifests_is_a_setting_of_its_service(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    configmaps = of_kind(docs, "ConfigMap")
    readers: dict[str, set[str]] = {}
    secrets_used = False
    for service, deployment in of_kind(docs, "Deployment").items():
        app = container(deployment)
        for item in app.get("env", []):
            assert item["name"] in env_fields(service), f"{name}: {service} has no setting {item['name']}"
        for source in app.get("envFrom", []):
            if "configMapRef" in source:
                readers.setdefault(source["configMapRef"]["name"], set()).add(service)
            else:
                assert source["secretRef"]["name"] == "newsflow-secrets"
                secrets_used = True
    assert readers, f"{name}: no ConfigMap configures the services"
    for configmap, services in readers.items():
        for variable in configmaps[configmap]["data"]:
            assert any(variable in env_fields(service) for service in services), (
                f"{name}: {configmap} sets {variable}, a setting of none of {sorted(services)}"
            )
    if secrets_used:
        keys = documented_secret_keys()
        assert keys, "deploy/README.md says how to make newsflow-secrets"
        for variable in keys:
            assert any(variable in env_fields(service) for service in SETTINGS), variable


def effective(docs: list[Doc], service: str, field: str) -> Any:
    """A setting's value in the rendered manifests: the container's env, its ConfigMaps, or the default."""
    app = container(of_kind(docs, "Deployment")[service])
    variable = f"NEWSFLOW_{field.upper()}"
    for item in app.get("env", []):
        if item["name"] == variable:
            return item["value"]
    configmaps = of_kind(docs, "ConfigMap")
    for source in app.get("envFrom", []):
        if "configMapRef" in source and variable in configmaps[source["configMapRef"]["name"]]["data"]:
            return configmaps[source["configMapRef"]["name"]]["data"][variable]
    return default(service, field)


# --- autoscaling and disruption budgets -------------------------------------------------------


def scale_targets(docs: list[Doc]) -> list[tuple[str, str, int]]:
    """(kind of autoscaler, Deployment it scales, its most replicas)."""
    found = []
    for hpa in of_kind(docs, "HorizontalPodAutoscaler").values():
        found.append(("HorizontalPodAutoscaler", hpa["spec"]["scaleTargetRef"], hpa["spec"]["maxReplicas"]))
    for scaled in of_kind(docs, "ScaledObject").values():
        found.append(("ScaledObject", scaled["spec"]["scaleTargetRef"], scaled["spec"]["maxReplicaCount"]))
    for kind, ref, _ in found:
        assert ref["kind"] == "Deployment" and ref.get("apiVersion", "apps/v1") == "apps/v1", kind
    return [(kind, ref["name"], most) for kind, ref, most in found]


def test_one_autoscaler_per_deployment_within_the_partitions(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    targets = scale_targets(docs)
    deployments = of_kind(docs, "Deployment")
    scaled = [target for _, target, _ in targets]
    assert set(scaled) <= set(deployments), f"{name}: an autoscaler targets a missing Deployment"
    assert len(scaled) == len(set(scaled)), f"{name}: two autoscalers (an HPA and KEDA's) for one Deployment"
    for _, target, most in targets:
        assert most <= max_consumers(target), f"{name}: {target} may get more pods than partitions"


def test_ingest_and_publication_scale_on_cpu_everywhere(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    cpu = {
        hpa["spec"]["scaleTargetRef"]["name"]
        for hpa in of_kind(docs, "HorizontalPodAutoscaler").values()
        if any(metric["resource"]["name"] == "cpu" for metric in hpa["spec"]["metrics"])
    }
    cpu |= {
        scaled["spec"]["scaleTargetRef"]["name"]
        for scaled in of_kind(docs, "ScaledObject").values()
        if any(trigger["type"] == "cpu" for trigger in scaled["spec"]["triggers"])
    }
    assert {"ingest", "publication"} <= cpu, name


def test_keda_scales_the_consumers_on_their_groups_lag() -> None:
    docs = render(DEPLOY / "overlays" / "production")
    scaled = of_kind(docs, "ScaledObject")
    assert set(scaled) == {"enrichment", "publication"}
    bootstrap = of_kind(docs, "ConfigMap")["newsflow-config"]["data"]["NEWSFLOW_KAFKA_BOOTSTRAP"]
    watched: dict[str, set[tuple[str, str]]] = {}
    for service, scaled_object in scaled.items():
        assert scaled_object["spec"]["scaleTargetRef"]["name"] == service
        groups = {
            effective(docs, service, field): default(service, field)
            for field in SETTINGS[service].model_fields
            if field.endswith("_group")
        }
        for trigger in scaled_object["spec"]["triggers"]:
            if trigger["type"] != "kafka":
                continue
            meta = trigger["metadata"]
            assert meta["bootstrapServers"] == bootstrap
            assert meta["consumerGroup"] in groups, (
                f"{service}: {meta['consumerGroup']} is none of its groups"
            )
            assert meta["topic"] in consumed(service)[groups[meta["consumerGroup"]]], (
                f"{service}: group {meta['consumerGroup']} does not read {meta['topic']}"
            )
            assert meta["allowIdleConsumers"] == "false"
            assert int(meta["lagThreshold"]) > 0
            watched.setdefault(service, set()).add((meta["consumerGroup"], meta["topic"]))
    enrichment_group = default("enrichment", "enrichment_group")
    publication_group = default("publication", "publication_group")
    assert (enrichment_group, topics.ARTICLE_INGESTED.name) in watched["enrichment"]
    assert (publication_group, topics.ARTICLE_ENRICHED.name) in watched["publication"]


def test_each_deployment_has_a_disruption_budget(overlay: tuple[str, list[Doc]]) -> None:
    name, docs = overlay
    budgets = of_kind(docs, "PodDisruptionBudget")
    for service, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [
            b for b in budgets.values() if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(covering) == 1, f"{name}: {service} has {len(covering)} disruption budgets"
        assert covering[0]["spec"] == {"maxUnavailable": 1, "selector": covering[0]["spec"]["selector"]}
    assert len(budgets) == len(SETTINGS)


# --- Prometheus and Grafana ---------------------------------------------------------------------

TARGET_LABELS = {"service", "namespace", "pod", "job", "instance"}
CONTRACT: dict[str, tuple[str, set[str]]] = {
    "newsflow_consumer_lag": ("gauge", {"group", "topic", "partition"}),
    "newsflow_records_total": ("counter", {"topic", "outcome"}),
    "newsflow_stage_seconds": ("histogram", {"stage"}),
    "newsflow_end_to_end_seconds": ("histogram", set()),
    "newsflow_articles_published_total": ("counter", set()),
    "newsflow_http_requests_total": ("counter", {"method", "route", "status"}),
    "newsflow_http_request_seconds": ("histogram", {"method", "route"}),
    "newsflow_dependency_seconds": ("histogram", {"dependency", "operation"}),
}
OUTCOMES = {"processed", "failed", "dead_lettered"}


def series_labels() -> dict[str, set[str]]:
    series = {"up": set()}
    for metric, (kind, labels) in CONTRACT.items():
        if kind == "histogram":
            series |= {
                f"{metric}_bucket": labels | {"le"},
                f"{metric}_sum": labels,
                f"{metric}_count": labels,
            }
        else:
            series[metric] = labels
    return {name: labels | TARGET_LABELS for name, labels in series.items()}


def without_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def series_in(expr: str) -> set[str]:
    return set(re.findall(r"(?<![\w:])(newsflow[a-z0-9_:]*|up)(?![\w:])(?!\s*\()", without_strings(expr)))


def check_expr(expr: str, known: dict[str, set[str]]) -> None:
    names = series_in(expr)
    assert names, f"names no series: {expr}"
    assert names <= set(known), f"unknown series {sorted(names - set(known))} in: {expr}"
    usable = set().union(*(known[name] for name in names))
    for metric, matchers in re.findall(r"(newsflow[a-z0-9_:]*|up)\{([^}]*)\}", expr):
        for label, value in re.findall(r'(\w+)\s*(?:=~|!~|!=|=)\s*"([^"]*)"', matchers):
            assert label in known[metric], f"{metric} has no label {label}: {expr}"
            if label == "outcome":
                assert value in OUTCOMES, expr
            if label == "service" and not value.startswith("$"):
                assert value in SETTINGS, expr
            if label == "job":
                assert value == scrape_config()["job_name"], expr
    for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", without_strings(expr)):
        for label in filter(None, (part.strip() for part in clause.split(","))):
            assert label in usable, f"no series here has the label {label}: {expr}"


def test_the_expression_check_catches_a_misspelt_metric_or_label() -> None:
    known = series_labels()
    with pytest.raises(AssertionError):
        check_expr('rate(newsflow_recrods_total{outcome="failed"}[5m])', known)
    with pytest.raises(AssertionError):
        check_expr('rate(newsflow_records_total{outcome="lost"}[5m])', known)
    with pytest.raises(AssertionError):
        check_expr("sum by (partiton) (newsflow_consumer_lag)", known)
    check_expr('sum by (service, topic) (rate(newsflow_records_total{outcome="failed"}[5m]))', known)


def scrape_config() -> Doc:
    [job] = yaml.safe_load((MONITORING / "prometheus-scrape.yml").read_text())["scrape_configs"]
    config: Doc = job
    return config


def test_prometheus_scrapes_every_pod_on_its_http_port_and_names_its_service() -> None:
    job = scrape_config()
    assert job["metrics_path"] == "/metrics"
    assert [sd["role"] for sd in job["kubernetes_sd_configs"]] == ["pod"]
    keep = {r["source_labels"][0]: r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
    service = [r for r in job["relabel_configs"] if r.get("target_label") == "service"]
    assert [r["source_labels"] for r in service] == [["__meta_kubernetes_pod_label_app_kubernetes_io_name"]]
    for name in OVERLAYS:
        for deployment in of_kind(render(DEPLOY / "overlays" / name), "Deployment").values():
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            assert (
                keep["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"]
                == labels["app.kubernetes.io/part-of"]
            )
            assert (
                keep["__meta_kubernetes_pod_container_port_name"] == container(deployment)["ports"][0]["name"]
            )


def alert_rules() -> list[Doc]:
    return [
        rule
        for group in yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]


def test_alert_rules_use_only_the_contracts_metrics() -> None:
    known = series_labels()
    rules = alert_rules()
    for rule in rules:
        check_expr(rule["expr"], known)
        if "record" in rule:
            assert ":" in rule["record"]
            known[rule["record"]] = set(
                re.findall(r"by \(([^)]*)\)", rule["expr"])[0].replace(" ", "").split(",")
            )
        else:
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert rule["annotations"]["summary"]
    alerts = {rule["alert"]: rule["expr"] for rule in rules if "alert" in rule}
    assert {
        "NewsflowServiceDown",
        "NewsflowConsumerLagGrowing",
        "NewsflowDeadLettersGrowing",
        "NewsflowNothingPublished",
    } <= set(alerts)
    assert "up" in series_in(alerts["NewsflowServiceDown"])
    assert "newsflow_articles_published_total" in series_in(alerts["NewsflowNothingPublished"])


def test_the_dashboard_uses_only_the_contracts_metrics() -> None:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] == "newsflow"
    known = series_labels()
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [var["query"]["query"] for var in dashboard["templating"]["list"] if var["type"] == "query"]
    for expr in exprs:
        check_expr(expr, known)
    shown = set().union(*(series_in(expr) for expr in exprs))
    for metric, (kind, _) in CONTRACT.items():
        assert (f"{metric}_bucket" if kind == "histogram" else metric) in shown, f"no panel shows {metric}"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_the_monitoring_configmaps_carry_the_files() -> None:
    docs = render(MONITORING)
    configmaps = of_kind(docs, "ConfigMap")
    assert configmaps["newsflow-grafana-dashboard"]["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert set(configmaps["newsflow-prometheus"]["data"]) == {"prometheus-scrape.yml", "alerts.yml"}


# --- docker compose -----------------------------------------------------------------------------


def compose() -> Doc:
    doc: Doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_compose_service_agrees_with_its_settings(service: str) -> None:
    services = compose()["services"]
    spec = services[service]
    port = default(service, f"{service}_port")
    image = IMAGES.get(service, f"newsflow-{service}")
    built = image.removeprefix("newsflow-")
    assert spec["image"] == image
    assert spec["build"]["args"] == {"SERVICE": built, "PORT": str(default(built, f"{built}_port"))}
    assert spec.get("command") == COMMANDS.get(service)
    for variable in spec["environment"]:
        assert variable in env_fields(service), f"compose: {service} has no setting {variable}"
    test = spec["healthcheck"]["test"]
    assert test[0] == "CMD" and f"http://127.0.0.1:{port}/readyz" in test[-1]
    assert "container_name" not in spec
    for published in spec.get("ports", []):
        assert published == f"127.0.0.1:{port}:{port}"
    for dependency, condition in spec["depends_on"].items():
        assert condition == {"condition": "service_healthy"}
        assert "healthcheck" in services[dependency]
    assert spec["stop_grace_period"] == "30s"


def test_one_related_indexer_everywhere_and_none_in_the_read_api(overlay: tuple[str, list[Doc]]) -> None:
    """The indexer reads the whole published topic without a group: one process of its own
    per deployment (more would compute the same lists), none inside publication's pods."""
    name, docs = overlay
    assert str(effective(docs, "publication", "related_enabled")).lower() == "false", name
    assert of_kind(docs, "Deployment")["related"]["spec"]["replicas"] == 1, name
    assert "related" not in [target for _, target, _ in scale_targets(docs)], name
    services = compose()["services"]
    assert (
        str(services["publication"]["environment"].get("NEWSFLOW_RELATED_ENABLED", False)).lower() == "false"
    )
    assert services["related"]["deploy"] == {"replicas": 1}
    assert "ports" not in services["related"]


def test_compose_can_scale_enrichment() -> None:
    enrichment = compose()["services"]["enrichment"]
    assert "ports" not in enrichment and "container_name" not in enrichment
