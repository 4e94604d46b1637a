#!/usr/bin/env python3
"""Writes deploy/kubernetes/prometheusrule.yaml (a Prometheus Operator PrometheusRule) from
deploy/monitoring/alerts.yaml, the one source of the alerting rules. Run it after editing
alerts.yaml; tests/deploy/deploy_test.sh fails while the two differ.

    python3 deploy/monitoring/prometheusrule.py            # rewrite the file
    python3 deploy/monitoring/prometheusrule.py --stdout   # print instead
Needs PyYAML (Debian: python3-yaml)."""
import pathlib
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent
SOURCE = HERE / "alerts.yaml"
TARGET = HERE.parent / "kubernetes" / "prometheusrule.yaml"
HEADER = """\
# GENERATED from deploy/monitoring/alerts.yaml by deploy/monitoring/prometheusrule.py: edit
# that file and rerun the script. tests/deploy/deploy_test.sh checks that the two agree.
"""


class Dumper(yaml.SafeDumper):
    """Multi-line strings (expressions) as literal blocks, like the source file."""


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _str)


def render() -> str:
    rules = yaml.safe_load(SOURCE.read_text())
    resource = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "turnpike", "labels": {"app.kubernetes.io/name": "turnpike"}},
        "spec": {"groups": rules["groups"]},
    }
    return HEADER + yaml.dump(resource, Dumper=Dumper, sort_keys=False, width=100)


if __name__ == "__main__":
    text = render()
    if sys.argv[1:] == ["--stdout"]:
        sys.stdout.write(text)
    else:
        TARGET.write_text(text)
