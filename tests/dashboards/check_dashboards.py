#!/usr/bin/env python3
"""check_dashboards.py -- the Grafana side of docker/: structure, data
source, metric names, and every PromQL expression as promtool will see it.

Reads the provisioned data sources (docker/grafana/provisioning/datasources)
and every dashboard (docker/grafana/dashboards/*.json), checks that each
panel, variable and annotation uses a provisioned data source by uid, that
panel ids are unique and panels fit the 24-column grid, and that every l2d_*
metric named in a dashboard or in docker/prometheus/*.yml is one l2d
exports (a family name in server/*.c, or a histogram's _bucket/_sum/_count).
Then writes each expression, with Grafana's variables replaced by values
Prometheus accepts, as a recording rule into OUT, for `promtool check rules`.
Also checks docker/compose.yaml: every file it mounts from the tree exists.

usage: check_dashboards.py ROOT OUT.yml
Exits 1 with one line per problem.
"""
import glob
import json
import os
import re
import sys

import yaml

# Grafana's variables and what stands for them when promtool parses the
# expression: the dashboard's own variables take any value (.*).
MACROS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "${__rate_interval}": "5m",
    "${__interval}": "1m",
    "${__range}": "1h",
}
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$")
QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$")
METRIC = re.compile(r"\b(l2d_[a-z0-9_]+)\b")

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def exported_names(root):
    """Every l2d_* name in the server's sources, with the suffixes a
    histogram adds to the ones declared as histograms."""
    names = set()
    for path in glob.glob(os.path.join(root, "server", "*.c")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', text):
            names.update(METRIC.findall(lit))
    return names


def substitute(expr, variables):
    for k, v in MACROS.items():
        expr = expr.replace(k, v)
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", ".*").replace("$" + name, ".*")
    return expr


def datasource_ok(where, ds, uids):
    if not isinstance(ds, dict) or ds.get("uid") not in uids:
        problem(where, f"data source {ds!r} is not a provisioned one ({sorted(uids)})")


def dashboard_exprs(path, dash, uids):
    """(where, expression) for every query of dash, checking structure."""
    out = []
    name = os.path.basename(path)
    variables = [v["name"] for v in dash.get("templating", {}).get("list", [])]
    if not dash.get("uid"):
        problem(name, "no uid")
    for v in dash.get("templating", {}).get("list", []):
        where = f"{name} variable {v.get('name')}"
        datasource_ok(where, v.get("datasource"), uids)
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = LABEL_VALUES.match(q or "") or QUERY_RESULT.match(q or "")
        if m is None:
            problem(where, f"query {q!r} is neither label_values(...) nor query_result(...)")
        else:
            out.append((where, m.group(1)))
    for a in dash.get("annotations", {}).get("list", []):
        if "expr" in a:
            where = f"{name} annotation {a.get('name')}"
            datasource_ok(where, a.get("datasource"), uids)
            out.append((where, a["expr"]))
    ids = set()
    panels = list(dash.get("panels", []))
    for p in panels:
        panels.extend(p.get("panels", []))
        where = f"{name} panel {p.get('id')} ({p.get('title')})"
        if p.get("id") in ids:
            problem(where, "duplicate panel id")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] + g["w"] > 24:
            problem(where, f"gridPos {g} does not fit the 24-column grid")
        if p.get("type") == "row":
            continue
        datasource_ok(where, p.get("datasource"), uids)
        if not p.get("targets"):
            problem(where, "no query")
        for t in p.get("targets", []):
            datasource_ok(f"{where} {t.get('refId')}", t.get("datasource"), uids)
            if not (t.get("expr") or "").strip():
                problem(f"{where} {t.get('refId')}", "empty expression")
            else:
                out.append((f"{where} {t.get('refId')}", t["expr"]))
    return [(w, substitute(e, variables)) for w, e in out]


def rules_exprs(root):
    out = []
    for path in sorted(glob.glob(os.path.join(root, "docker", "prometheus", "*.yml"))):
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for g in doc.get("groups", []):
            for r in g.get("rules", []):
                out.append((f"{os.path.basename(path)} {r.get('alert') or r.get('record')}", r["expr"]))
    return out


def check_names(exprs, exported):
    for where, expr in exprs:
        for n in METRIC.findall(expr):
            base = re.sub(r"_(bucket|sum|count)$", "", n)
            if n not in exported and base not in exported:
                problem(where, f"metric {n} is not exported by server/*.c")


def check_compose(root):
    path = os.path.join(root, "docker", "compose.yaml")
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for svc, spec in doc.get("services", {}).items():
        for v in spec.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                if not os.path.exists(os.path.join(root, "docker", src)):
                    problem(f"compose.yaml {svc}", f"mounts {src}, which does not exist")


def main():
    root, out = sys.argv[1], sys.argv[2]
    uids = set()
    for path in glob.glob(os.path.join(root, "docker/grafana/provisioning/datasources/*.yml")):
        with open(path, encoding="utf-8") as f:
            uids.update(d["uid"] for d in yaml.safe_load(f).get("datasources", []))
    if not uids:
        problem("docker/grafana/provisioning/datasources", "no data source with a uid")
    exprs = []
    dashboards = sorted(glob.glob(os.path.join(root, "docker/grafana/dashboards/*.json")))
    if not dashboards:
        problem("docker/grafana/dashboards", "no dashboard")
    for path in dashboards:
        with open(path, encoding="utf-8") as f:
            exprs += dashboard_exprs(path, json.load(f), uids)
    check_names(exprs + rules_exprs(root), exported_names(root))
    check_compose(root)
    rules = [{"record": f"dashboard:expr_{i}", "expr": e, "labels": {"where": w}}
             for i, (w, e) in enumerate(exprs)]
    with open(out, "w", encoding="utf-8") as f:
        f.write("# Generated by tests/dashboards/check_dashboards.py: every PromQL\n")
        f.write("# expression of docker/grafana/dashboards, for promtool check rules.\n")
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, f, sort_keys=False)
    for p in problems:
        print(f"check_dashboards: {p}")
    print(f"check_dashboards: {len(exprs)} expressions from {len(dashboards)} dashboard(s) -> {out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
