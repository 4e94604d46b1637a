#!/usr/bin/env python3
"""Offline checks of the deployment kit, run by tests/deploy/deploy_test.sh. Needs PyYAML.

  check_deploy.py manifests RENDERED.yaml ALERTS.yaml OUTDIR
      Checks the output of `kubectl kustomize deploy/kubernetes` against a hand-written subset
      of the Kubernetes API schema (unknown fields, types, required fields) and against the kit's
      own rules (host network, probes, preStop drain, names that refer to each other). Writes the
      rendered ConfigMap and Secret files to OUTDIR/config/ and OUTDIR/secrets/, and the init
      container's script to OUTDIR/init.sh, for the shell to run against turnpike.
  check_deploy.py dashboard DASHBOARD.json RULES_OUT.yaml
      Checks the Grafana dashboard's structure; writes every query as a recording rule (Grafana
      variables replaced) so that `promtool check rules` parses the PromQL.
  check_deploy.py metrics SCRAPE.txt ALERTS.yaml DASHBOARD.json [--pending NAME...]
      Every metric name used by the rules and the dashboard must be in the scrape, or be listed
      as --pending (not exported yet); a pending name must not be exported and must be used.
  check_deploy.py dockerfile DOCKERFILE DOCKERIGNORE [--needs PACKAGE...]
      The runtime stage installs every --needs package; the build stage's COPY sources are let
      through by the .dockerignore. Prints the build stage's COPY sources, one per line.
  check_deploy.py unit UNIT.service
      The systemd unit has the settings the kit promises.
Exits 0 when every check passes; otherwise prints each problem and exits 1."""
import base64
import json
import pathlib
import re
import sys

import yaml

DRAIN_TIMEOUT_DEFAULT = 30  # seconds: drain.timeout in the examples (issue 5)
problems: list[str] = []


def problem(message: str) -> None:
    problems.append(message)


def finish(what: str) -> None:
    if problems:
        for message in problems:
            print(f"  problem: {message}")
        print(f"{what}: {len(problems)} problem(s)")
        sys.exit(1)
    print(f"{what}: ok")


# ---------------------------------------------------------------------------------------------
# A subset of the Kubernetes API schema: the types this kit uses, with every field each type has
# (so a misspelt field is an error, as `kubectl apply --validate` would say), and the types of
# the fields. "str", "int", "bool", "intstr" (int or string), "quantity" (string or number),
# "map" (string to string), "any"; a type name; or a one-element list for a list of that type.
# ---------------------------------------------------------------------------------------------
S = {
    "ObjectMeta": {"name": "str", "namespace": "str", "labels": "map", "annotations": "map",
                   "generateName": "str"},
    "LabelSelector": {"matchLabels": "map", "matchExpressions": ["any"]},
    "Namespace": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta", "spec": "any"},
    "ConfigMap": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta", "data": "map",
                  "binaryData": "map", "immutable": "bool"},
    "Secret": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta", "data": "map",
               "stringData": "map", "type": "str", "immutable": "bool"},
    "Service": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta",
                "spec": "ServiceSpec"},
    "ServiceSpec": {"allocateLoadBalancerNodePorts": "bool", "clusterIP": "str",
                    "clusterIPs": ["str"], "externalIPs": ["str"], "externalName": "str",
                    "externalTrafficPolicy": "str", "healthCheckNodePort": "int",
                    "internalTrafficPolicy": "str", "ipFamilies": ["str"],
                    "ipFamilyPolicy": "str", "loadBalancerClass": "str", "loadBalancerIP": "str",
                    "loadBalancerSourceRanges": ["str"], "ports": ["ServicePort"],
                    "publishNotReadyAddresses": "bool", "selector": "map",
                    "sessionAffinity": "str", "sessionAffinityConfig": "any", "type": "str",
                    "trafficDistribution": "str"},
    "ServicePort": {"appProtocol": "str", "name": "str", "nodePort": "int", "port": "int",
                    "protocol": "str", "targetPort": "intstr"},
    "DaemonSet": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta",
                  "spec": "DaemonSetSpec"},
    "DaemonSetSpec": {"minReadySeconds": "int", "revisionHistoryLimit": "int",
                      "selector": "LabelSelector", "template": "PodTemplateSpec",
                      "updateStrategy": "DaemonSetUpdateStrategy"},
    "DaemonSetUpdateStrategy": {"type": "str", "rollingUpdate": "RollingUpdateDaemonSet"},
    "RollingUpdateDaemonSet": {"maxSurge": "intstr", "maxUnavailable": "intstr"},
    "PodTemplateSpec": {"metadata": "ObjectMeta", "spec": "PodSpec"},
    "PodSpec": {"activeDeadlineSeconds": "int", "affinity": "any",
                "automountServiceAccountToken": "bool", "containers": ["Container"],
                "dnsConfig": "any", "dnsPolicy": "str", "enableServiceLinks": "bool",
                "ephemeralContainers": ["any"], "hostAliases": ["any"], "hostIPC": "bool",
                "hostNetwork": "bool", "hostPID": "bool", "hostUsers": "bool", "hostname": "str",
                "imagePullSecrets": ["any"], "initContainers": ["Container"], "nodeName": "str",
                "nodeSelector": "map", "os": "any", "overhead": "any", "preemptionPolicy": "str",
                "priority": "int", "priorityClassName": "str", "readinessGates": ["any"],
                "resourceClaims": ["any"], "restartPolicy": "str", "runtimeClassName": "str",
                "schedulerName": "str", "schedulingGates": ["any"],
                "securityContext": "PodSecurityContext", "serviceAccount": "str",
                "serviceAccountName": "str", "setHostnameAsFQDN": "bool",
                "shareProcessNamespace": "bool", "subdomain": "str",
                "terminationGracePeriodSeconds": "int", "tolerations": ["any"],
                "topologySpreadConstraints": ["any"], "volumes": ["Volume"]},
    "PodSecurityContext": {"appArmorProfile": "any", "fsGroup": "int",
                           "fsGroupChangePolicy": "str", "runAsGroup": "int",
                           "runAsNonRoot": "bool", "runAsUser": "int", "seLinuxOptions": "any",
                           "seccompProfile": "SeccompProfile", "supplementalGroups": ["int"],
                           "supplementalGroupsPolicy": "str", "sysctls": ["any"],
                           "windowsOptions": "any"},
    "SeccompProfile": {"type": "str", "localhostProfile": "str"},
    "Container": {"args": ["str"], "command": ["str"], "env": ["any"], "envFrom": ["any"],
                  "image": "str", "imagePullPolicy": "str", "lifecycle": "Lifecycle",
                  "livenessProbe": "Probe", "name": "str", "ports": ["ContainerPort"],
                  "readinessProbe": "Probe", "resizePolicy": ["any"],
                  "resources": "ResourceRequirements", "restartPolicy": "str",
                  "securityContext": "SecurityContext", "startupProbe": "Probe",
                  "stdin": "bool", "stdinOnce": "bool", "terminationMessagePath": "str",
                  "terminationMessagePolicy": "str", "tty": "bool", "volumeDevices": ["any"],
                  "volumeMounts": ["VolumeMount"], "workingDir": "str"},
    "ContainerPort": {"containerPort": "int", "hostIP": "str", "hostPort": "int", "name": "str",
                      "protocol": "str"},
    "Probe": {"exec": "ExecAction", "failureThreshold": "int", "grpc": "any",
              "httpGet": "HTTPGetAction", "initialDelaySeconds": "int", "periodSeconds": "int",
              "successThreshold": "int", "tcpSocket": "any",
              "terminationGracePeriodSeconds": "int", "timeoutSeconds": "int"},
    "HTTPGetAction": {"host": "str", "httpHeaders": ["any"], "path": "str", "port": "intstr",
                      "scheme": "str"},
    "ExecAction": {"command": ["str"]},
    "Lifecycle": {"postStart": "LifecycleHandler", "preStop": "LifecycleHandler",
                  "stopSignal": "str"},
    "LifecycleHandler": {"exec": "ExecAction", "httpGet": "HTTPGetAction", "sleep": "any",
                         "tcpSocket": "any"},
    "ResourceRequirements": {"claims": ["any"], "limits": "Quantities",
                             "requests": "Quantities"},
    "Quantities": {"cpu": "quantity", "memory": "quantity", "ephemeral-storage": "quantity"},
    "SecurityContext": {"allowPrivilegeEscalation": "bool", "appArmorProfile": "any",
                        "capabilities": "Capabilities", "privileged": "bool",
                        "procMount": "str", "readOnlyRootFilesystem": "bool",
                        "runAsGroup": "int", "runAsNonRoot": "bool", "runAsUser": "int",
                        "seLinuxOptions": "any", "seccompProfile": "SeccompProfile",
                        "windowsOptions": "any"},
    "Capabilities": {"add": ["str"], "drop": ["str"]},
    "VolumeMount": {"mountPath": "str", "mountPropagation": "str", "name": "str",
                    "readOnly": "bool", "recursiveReadOnly": "str", "subPath": "str",
                    "subPathExpr": "str"},
    "Volume": {"name": "str", "configMap": "ConfigMapVolumeSource",
               "secret": "SecretVolumeSource", "emptyDir": "EmptyDirVolumeSource",
               "hostPath": "any", "projected": "any", "downwardAPI": "any"},
    "ConfigMapVolumeSource": {"defaultMode": "int", "items": ["any"], "name": "str",
                              "optional": "bool"},
    "SecretVolumeSource": {"defaultMode": "int", "items": ["any"], "optional": "bool",
                           "secretName": "str"},
    "EmptyDirVolumeSource": {"medium": "str", "sizeLimit": "quantity"},
    # Prometheus Operator CRDs (monitoring.coreos.com/v1), the fields this kit uses and their
    # common neighbours.
    "ServiceMonitor": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta",
                       "spec": "ServiceMonitorSpec"},
    "ServiceMonitorSpec": {"endpoints": ["MonitorEndpoint"], "jobLabel": "str",
                           "namespaceSelector": "any", "podTargetLabels": ["str"],
                           "sampleLimit": "int", "selector": "LabelSelector",
                           "targetLabels": ["str"]},
    "MonitorEndpoint": {"basicAuth": "any", "bearerTokenSecret": "any", "followRedirects": "bool",
                        "honorLabels": "bool", "honorTimestamps": "bool", "interval": "str",
                        "metricRelabelings": ["any"], "params": "any", "path": "str",
                        "port": "str", "relabelings": ["any"], "scheme": "str",
                        "scrapeTimeout": "str", "targetPort": "intstr", "tlsConfig": "any"},
    "PrometheusRule": {"apiVersion": "str", "kind": "str", "metadata": "ObjectMeta",
                       "spec": "PrometheusRuleSpec"},
    "PrometheusRuleSpec": {"groups": ["RuleGroup"]},
    "RuleGroup": {"name": "str", "interval": "str", "rules": ["Rule"]},
    "Rule": {"alert": "str", "record": "str", "expr": "str", "for": "str", "labels": "map",
             "annotations": "map"},
}
REQUIRED = {
    "ServicePort": ["port"], "DaemonSetSpec": ["selector", "template"],
    "PodSpec": ["containers"], "Container": ["name", "image"],
    "ContainerPort": ["containerPort"], "VolumeMount": ["name", "mountPath"],
    "Volume": ["name"], "HTTPGetAction": ["port"], "ExecAction": ["command"],
    "ServiceMonitorSpec": ["selector", "endpoints"], "RuleGroup": ["name", "rules"],
    "Rule": ["expr"],
}
# kind -> apiVersion the kit must use.
KINDS = {
    "Namespace": "v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
    "DaemonSet": "apps/v1", "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_type(value, spec, path: str) -> None:
    if isinstance(spec, list):
        if not isinstance(value, list):
            problem(f"{path}: must be a list")
            return
        for i, item in enumerate(value):
            check_type(item, spec[0], f"{path}[{i}]")
        return
    scalar = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "intstr": lambda v: isinstance(v, (int, str)) and not isinstance(v, bool),
        "quantity": lambda v: isinstance(v, (int, float, str)) and not isinstance(v, bool),
        "map": lambda v: isinstance(v, dict) and all(
            isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
        "any": lambda v: True,
    }
    if spec in scalar:
        if not scalar[spec](value):
            problem(f"{path}: must be {spec}, got {value!r}")
        return
    if not isinstance(value, dict):
        problem(f"{path}: must be an object ({spec})")
        return
    fields = S[spec]
    for key, item in value.items():
        if key not in fields:
            problem(f"{path}.{key}: unknown field in {spec}")
            continue
        check_type(item, fields[key], f"{path}.{key}")
    for key in REQUIRED.get(spec, []):
        if key not in value:
            problem(f"{path}: {spec} needs {key}")


def named(items, name):
    return next((item for item in items or [] if item.get("name") == name), None)


def check_manifests(rendered: str, alerts: str, outdir: str) -> None:
    docs = [d for d in yaml.safe_load_all(pathlib.Path(rendered).read_text()) if d is not None]
    by_kind: dict[str, list] = {}
    for doc in docs:
        kind = doc.get("kind")
        if kind not in KINDS:
            problem(f"unexpected kind {kind!r}")
            continue
        if doc.get("apiVersion") != KINDS[kind]:
            problem(f"{kind}: apiVersion {doc.get('apiVersion')!r}, expected {KINDS[kind]}")
        check_type(doc, kind, kind)
        name = doc.get("metadata", {}).get("name", "")
        if not NAME_RE.match(name) or len(name) > 63:
            problem(f"{kind} {name!r}: not a valid DNS label")
        if kind != "Namespace" and doc["metadata"].get("namespace") != "turnpike":
            problem(f"{kind} {name}: namespace is not turnpike")
        by_kind.setdefault(kind, []).append(doc)
    for kind in KINDS:
        if len(by_kind.get(kind, [])) != 1:
            problem(f"expected one {kind}, found {len(by_kind.get(kind, []))}")
    if problems:
        return
    ds, svc = by_kind["DaemonSet"][0], by_kind["Service"][0]
    cm, secret = by_kind["ConfigMap"][0], by_kind["Secret"][0]
    sm, rule = by_kind["ServiceMonitor"][0], by_kind["PrometheusRule"][0]

    # Config and secret files, for the shell to check with turnpike --check-config.
    out = pathlib.Path(outdir)
    (out / "config").mkdir(parents=True, exist_ok=True)
    (out / "secrets").mkdir(parents=True, exist_ok=True)
    if "turnpike.yaml" not in cm.get("data", {}):
        problem("ConfigMap has no turnpike.yaml")
        return
    if "secrets.yaml" not in secret.get("data", {}):
        problem("Secret has no secrets.yaml")
        return
    (out / "config" / "turnpike.yaml").write_text(cm["data"]["turnpike.yaml"])
    secret_text = base64.b64decode(secret["data"]["secrets.yaml"]).decode()
    (out / "secrets" / "secrets.yaml").write_text(secret_text)
    config = yaml.safe_load(cm["data"]["turnpike.yaml"]) or {}
    secret_config = yaml.safe_load(secret_text) or {}
    if "auth" in config:
        problem("ConfigMap turnpike.yaml sets auth: secrets belong in the Secret")
    for key in secret_config:
        if key in config:
            problem(f"{key}: in both the ConfigMap and the Secret (a key set twice is an error)")

    spec = ds["spec"]
    pod = spec["template"]["spec"]
    pod_labels = spec["template"].get("metadata", {}).get("labels", {})
    selector = spec["selector"].get("matchLabels", {})
    if not selector or any(pod_labels.get(k) != v for k, v in selector.items()):
        problem("DaemonSet selector does not match its pod labels")
    if pod.get("hostNetwork") is not True:
        problem("DaemonSet: hostNetwork must be true (relay port ranges)")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace <= DRAIN_TIMEOUT_DEFAULT:
        problem(f"terminationGracePeriodSeconds {grace} must exceed drain.timeout "
                f"({DRAIN_TIMEOUT_DEFAULT} s)")
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or not psc.get("runAsUser"):
        problem("pod must run as a non-root user (runAsNonRoot, runAsUser)")
    main = named(pod["containers"], "turnpike")
    init = named(pod.get("initContainers"), "config")
    if main is None or init is None:
        problem("expected container turnpike and init container config")
        return
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False or "ALL" not in sc.get(
                "capabilities", {}).get("drop", []):
            problem(f"container {c['name']}: needs allowPrivilegeEscalation false and drop ALL")
        volumes = {v["name"] for v in pod.get("volumes", [])}
        for mount in c.get("volumeMounts", []):
            if mount["name"] not in volumes:
                problem(f"container {c['name']}: mount of unknown volume {mount['name']}")
    if main.get("args") != ["--config", "/run/turnpike/turnpike.yaml"]:
        problem(f"turnpike args {main.get('args')} do not read /run/turnpike/turnpike.yaml")

    # Ports: the config's listeners and HTTP endpoint are declared, by protocol.
    ports = main.get("ports", [])
    for p in ports:
        if len(p.get("name", "")) > 15:
            problem(f"port name {p['name']!r} is longer than 15 characters")
        if "hostPort" in p and p["hostPort"] != p["containerPort"]:
            problem(f"port {p.get('name')}: with hostNetwork hostPort must equal containerPort")
    declared = {(p.get("protocol", "TCP"), p["containerPort"]) for p in ports}
    for i, listener in enumerate(config.get("listeners", [])):
        default_port = 5349 if listener["transport"] == "tls" else 3478
        want = ("UDP" if listener["transport"] == "udp" else "TCP",
                listener.get("port", default_port))
        if want not in declared:
            problem(f"listeners[{i}] {want} is not among the container's ports")
    http = config.get("http", {})
    if http.get("address") != "0.0.0.0":
        problem("ConfigMap: http.address must be 0.0.0.0 for probes and scraping")
    http_port = named(ports, "http")
    if http_port is None or http_port["containerPort"] != http.get("port", 9641):
        problem("container port 'http' does not match the config's http.port")

    # Probes and the drain.
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = main.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") not in ("http", http.get("port", 9641)):
            problem(f"{probe} must be httpGet {path} on the http port, got {get}")
    pre_stop = main.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if "kill -TERM 1" not in " ".join(pre_stop) or "kill -0 1" not in " ".join(pre_stop):
        problem("preStop must send SIGTERM to turnpike (PID 1) and wait for it to exit")

    # The init container's script, for the shell to run with local paths.
    command = init.get("command", [])
    if command[:2] != ["/bin/sh", "-c"] or len(command) != 3:
        problem("init container command must be /bin/sh -c SCRIPT")
    else:
        (out / "init.sh").write_text(command[2])

    # Generated names (hash suffixes) are referenced.
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    if volumes.get("config", {}).get("configMap", {}).get("name") != cm["metadata"]["name"]:
        problem("volume config does not refer to the generated ConfigMap")
    if volumes.get("secrets", {}).get("secret", {}).get("secretName") != secret["metadata"]["name"]:
        problem("volume secrets does not refer to the generated Secret")

    # Service, ServiceMonitor, PrometheusRule.
    if any(pod_labels.get(k) != v for k, v in svc["spec"].get("selector", {}).items()) or \
            not svc["spec"].get("selector"):
        problem("Service selector does not match the pods")
    svc_port = named(svc["spec"].get("ports"), "http")
    if svc_port is None or svc_port.get("targetPort") not in ("http", http.get("port", 9641)):
        problem("Service needs port 'http' targeting the container's http port")
    if svc["spec"].get("publishNotReadyAddresses") is not True:
        problem("Service: publishNotReadyAddresses keeps not-ready pods scraped")
    sm_labels = sm["spec"]["selector"].get("matchLabels", {})
    svc_labels = svc["metadata"].get("labels", {})
    if not sm_labels or any(svc_labels.get(k) != v for k, v in sm_labels.items()):
        problem("ServiceMonitor selector does not match the Service's labels")
    if [e.get("port") for e in sm["spec"]["endpoints"]] != ["http"] or \
            sm["spec"]["endpoints"][0].get("path", "/metrics") != "/metrics":
        problem("ServiceMonitor must scrape port http, path /metrics")
    if sm["spec"].get("jobLabel") is None and svc["metadata"]["name"] != "turnpike":
        problem("alerts.yaml expects job=\"turnpike\": the Service must be named turnpike")
    source = yaml.safe_load(pathlib.Path(alerts).read_text())
    if rule["spec"].get("groups") != source.get("groups"):
        problem("prometheusrule.yaml differs from deploy/monitoring/alerts.yaml: run "
                "python3 deploy/monitoring/prometheusrule.py")


# ---------------------------------------------------------------------------------------------
# Grafana dashboard
# ---------------------------------------------------------------------------------------------
def dashboard_queries(dash: dict) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and query variable."""
    queries = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                queries.append((f"panel {panel.get('id')} {panel.get('title')!r}",
                                target.get("expr", "")))
            walk(panel.get("panels", []))

    walk(dash.get("panels", []))
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var.get("query")
            text = query.get("query", "") if isinstance(query, dict) else query or ""
            match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", text)
            queries.append((f"variable {var.get('name')}", match.group(1) if match else text))
    return queries


def grafana_to_promql(expr: str) -> str:
    for var, value in (("$__rate_interval", "5m"), ("$__interval", "1m"), ("$__range", "1h"),
                       ("${instance}", ".*"), ("$instance", ".*")):
        expr = expr.replace(var, value)
    return expr


def check_dashboard(path: str, rules_out: str) -> None:
    try:
        dash = json.loads(pathlib.Path(path).read_text())
    except json.JSONDecodeError as e:
        problem(f"{path}: not JSON: {e}")
        return
    for key in ("title", "uid", "panels", "schemaVersion", "templating"):
        if key not in dash:
            problem(f"dashboard has no {key}")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource", {})
    if ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problem("dashboard needs a 'datasource' variable of type datasource (prometheus), so "
                "that it imports into any Grafana")
    if "instance" not in variables:
        problem("dashboard needs an 'instance' variable")
    ids = set()
    rows_y = []

    def walk(panels):
        for panel in panels:
            pid = panel.get("id")
            if not isinstance(pid, int) or pid in ids:
                problem(f"panel {panel.get('title')!r}: id {pid!r} missing or repeated")
            ids.add(pid)
            grid = panel.get("gridPos", {})
            if not all(isinstance(grid.get(k), int) for k in "hwxy") or \
                    grid["x"] + grid["w"] > 24:
                problem(f"panel {pid}: bad gridPos {grid}")
            if not panel.get("title"):
                problem(f"panel {pid}: no title")
            if panel.get("type") == "row":
                rows_y.append(grid.get("y"))
                walk(panel.get("panels", []))
                continue
            if panel.get("type") not in ("timeseries", "stat", "gauge", "bargauge", "table",
                                         "text", "heatmap"):
                problem(f"panel {pid}: unexpected type {panel.get('type')!r}")
            targets = panel.get("targets", [])
            if not targets:
                problem(f"panel {pid}: no queries")
            for target in targets:
                if target.get("datasource", {}).get("uid") != "${datasource}":
                    problem(f"panel {pid} query {target.get('refId')}: datasource must be "
                            "${datasource}")
                if "$instance" not in target.get("expr", ""):
                    problem(f"panel {pid} query {target.get('refId')}: does not filter by "
                            "$instance")

    walk(dash.get("panels", []))
    rules = [{"record": f"dashboard:query_{i}", "expr": grafana_to_promql(expr)}
             for i, (_, expr) in enumerate(dashboard_queries(dash))]
    pathlib.Path(rules_out).write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))


# ---------------------------------------------------------------------------------------------
# Metric names against a live scrape
# ---------------------------------------------------------------------------------------------
# Series that Prometheus makes itself, not the scraped server.
PROMETHEUS_SERIES = {"up"}
METRIC_PREFIXES = ("turnpike_", "process_")
PROMQL_WORDS = {
    # functions, aggregations, keywords and operators that may precede "(" or appear bare
    "abs", "absent", "absent_over_time", "and", "avg", "avg_over_time", "bool", "bottomk",
    "by", "ceil", "changes", "clamp_max", "clamp_min", "count", "count_over_time", "delta",
    "deriv", "floor", "group_left", "group_right", "histogram_quantile", "humanize",
    "humanizePercentage", "idelta", "ignoring", "increase", "irate", "label_replace",
    "label_values", "max", "max_over_time", "min", "min_over_time", "offset", "on", "or",
    "predict_linear", "quantile", "quantile_over_time", "rate", "resets", "round", "scalar",
    "sort", "sort_desc", "stddev", "sum", "sum_over_time", "time", "topk", "unless", "vector",
    "without", "le",
}


def names_in(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: identifiers outside label matchers and
    strings that are not functions, keywords or grouping labels."""
    text = re.sub(r'"(\\.|[^"\\])*"', '""', expr)      # drop string literals
    text = re.sub(r"\{[^}]*\}", "{}", text)            # drop label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)             # drop ranges
    text = re.sub(r"\$\{?\w+\}?", "", text)            # drop Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)", text):
        word = match.group(1)
        if word in PROMQL_WORDS or re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def scraped_names(path: str) -> set[str]:
    names = set()
    for line in pathlib.Path(path).read_text().splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def check_metrics(scrape: str, alerts: str, dashboard: str, pending: list[str]) -> None:
    exported = scraped_names(scrape)
    if not any(n.startswith("turnpike_") for n in exported):
        problem(f"{scrape}: no turnpike_ metrics: not a turnpike scrape")
        return
    # Keyed by the name as exported: a histogram's _bucket, _sum and _count series count as
    # uses of the histogram's own name (its # TYPE line).
    used: dict[str, list[str]] = {}

    def use(name: str, where: str) -> None:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        key = name if name in exported or base == name else base
        used.setdefault(key, []).append(where)

    rules = yaml.safe_load(pathlib.Path(alerts).read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name in names_in(rule["expr"]):
                use(name, f"alert {rule.get('alert', rule.get('record'))}")
    for where, expr in dashboard_queries(json.loads(pathlib.Path(dashboard).read_text())):
        for name in names_in(expr):
            use(name, f"dashboard {where}")
    pending_set = set(pending)
    for name, where in sorted(used.items()):
        if name in PROMETHEUS_SERIES or name in exported or name in pending_set:
            continue
        if not name.startswith(METRIC_PREFIXES):
            problem(f"{name} (used by {where[0]}) is not a turnpike or process metric")
            continue
        problem(f"{name} is used by {', '.join(sorted(set(where)))} but turnpike does not "
                f"export it (and it is not in the test's list of pending metrics)")
    for name in sorted(pending_set):
        if name in exported:
            problem(f"{name} is exported now: remove it from the pending list in "
                    "tests/deploy/deploy_test.sh")
        elif name not in used:
            problem(f"{name} is in the pending list but nothing uses it: remove it")
    print(f"metric names used: {len(used)}; pending (not exported yet): "
          f"{len(pending_set)}; exported by the live server: {len(exported)}")


# ---------------------------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------------------------
def check_dockerfile(path: str, ignore: str, needs: list[str]) -> None:
    text = re.sub(r"\\\n", " ", pathlib.Path(path).read_text())
    stages = re.split(r"(?m)^FROM\s+", text)[1:]
    if len(stages) < 2:
        problem("Dockerfile must be multi-stage (a build stage and a runtime stage)")
        return
    for stage in stages:
        if not stage.startswith("debian:"):
            problem(f"stage base {stage.split()[0]} is not a Debian image")
    build, runtime = stages[0], stages[-1]
    install = re.search(r"apt-get install[^&]*", runtime)
    packages = set(install.group(0).split()) if install else set()
    for pkg in needs:
        if pkg not in packages:
            problem(f"runtime stage does not install {pkg}, which build/turnpike links")
    user = re.search(r"(?m)^USER\s+(\S+)", runtime)
    if not user or user.group(1).split(":")[0] in ("0", "root"):
        problem("runtime stage must switch to a non-root USER")
    allowed = [line[1:].strip().rstrip("/") for line in pathlib.Path(ignore).read_text().splitlines()
               if line.startswith("!")]
    copies = []
    for stage in stages:
        for match in re.finditer(r"(?m)^COPY\s+(?!--from)(.*)$", stage):
            sources = match.group(1).split()[:-1]
            for src in sources:
                src = src.rstrip("/")
                if src not in allowed:
                    problem(f"COPY {src}: excluded by {ignore}")
                if stage is build:
                    copies.append(src)
    for src in copies:
        print(src)


# ---------------------------------------------------------------------------------------------
# systemd unit
# ---------------------------------------------------------------------------------------------
def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)\s*(s|min|m)?", value.strip())
    if not match:
        return -1
    return int(match.group(1)) * (60 if match.group(2) in ("min", "m") else 1)


def check_unit(path: str, drain_timeout: int) -> None:
    settings: dict[str, list[str]] = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())

    def one(key):
        return settings.get(key, [""])[-1]

    if one("Type") not in ("notify", "simple"):
        problem(f"Type={one('Type')}: expected notify (or simple)")
    if "/bin/kill -HUP $MAINPID" not in settings.get("ExecReload", []):
        problem("ExecReload must send SIGHUP: /bin/kill -HUP $MAINPID")
    if one("DynamicUser") != "yes":
        problem("DynamicUser=yes expected")
    if "CAP_NET_BIND_SERVICE" not in one("AmbientCapabilities").split():
        problem("AmbientCapabilities=CAP_NET_BIND_SERVICE expected (port 443)")
    if one("CapabilityBoundingSet").split() != ["CAP_NET_BIND_SERVICE"]:
        problem("CapabilityBoundingSet should be CAP_NET_BIND_SERVICE alone")
    nofile = one("LimitNOFILE")
    if not nofile.isdigit() or int(nofile) < 65536:
        problem(f"LimitNOFILE={nofile}: one socket per allocation needs far more than 1024")
    if seconds(one("TimeoutStopSec")) <= drain_timeout:
        problem(f"TimeoutStopSec={one('TimeoutStopSec')} must exceed drain.timeout "
                f"({drain_timeout} s)")
    if one("NoNewPrivileges") != "yes":
        problem("NoNewPrivileges=yes expected")


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit(__doc__)
    command, args = argv[1], argv[2:]
    if command == "manifests" and len(args) == 3:
        check_manifests(*args)
    elif command == "dashboard" and len(args) == 2:
        check_dashboard(*args)
    elif command == "metrics" and len(args) >= 3:
        pending = args[4:] if args[3:4] == ["--pending"] else []
        check_metrics(args[0], args[1], args[2], pending)
    elif command == "dockerfile" and len(args) >= 2:
        needs = args[3:] if args[2:3] == ["--needs"] else []
        check_dockerfile(args[0], args[1], needs)
        # The COPY list goes to stdout; the verdict to stderr so that the caller can capture it.
        if problems:
            for message in problems:
                print(f"  problem: {message}", file=sys.stderr)
            sys.exit(1)
        return
    elif command == "unit" and len(args) == 1:
        check_unit(args[0], DRAIN_TIMEOUT_DEFAULT)
    else:
        sys.exit(__doc__)
    finish(command)


if __name__ == "__main__":
    main(sys.argv)
