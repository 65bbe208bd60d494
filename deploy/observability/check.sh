#!/usr/bin/env bash
# Checks the operator's observability files in deploy/observability/:
#   - alerts.yaml is a valid rule file (promtool check rules) and passes its unit tests
#     (promtool test rules alerts.test.yaml); every alert has a severity, a summary, a
#     description and a runbook_url whose anchor is a section of docs/runbook.md, and a test
#     in which it fires, at each of its severities;
#   - dashboard.json matches dashboard.schema.json, its panels do not overlap, and its queries
#     parse as PromQL;
#   - every metric named in alerts.yaml and dashboard.json is in metrics.txt, the list of what
#     amends exports (a renamed metric would otherwise leave an alert or a panel silently empty).
#
# Usage: deploy/observability/check.sh [--live URL|FILE]
#   --live   also compare metrics.txt with the /metrics of a running amends (or a saved copy),
#            e.g. --live http://127.0.0.1:8080/metrics
#
# Installs what is missing: promtool from Debian's prometheus package (only the binary, into the
# tools cache that .ci/run uses, so no Prometheus server is installed or started), and Python's
# jsonschema and PyYAML. Exits non-zero if any check fails.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
TOOLS="${AMENDS_TOOLS:-$HOME/.cache/amends/tools}"
export PATH="$TOOLS/bin:$PATH"

live=""
while [ $# -gt 0 ]; do
  case "$1" in
    --live) live="${2:?--live needs a URL or a file}"; shift 2 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

step() { printf '\n==> %s\n' "$*"; }

install_promtool() {
  command -v promtool >/dev/null && return 0
  if ! command -v apt-get >/dev/null; then
    echo "promtool not found and no apt-get to fetch it: install Prometheus' promtool" >&2
    return 1
  fi
  echo "promtool not found: taking it from Debian's prometheus package into $TOOLS/bin"
  # `apt-get download` fetches the package without installing it: no service, no dependencies.
  # Its first try may fail on package lists never fetched; the second shows why it failed.
  if ! (cd "$work" && apt-get download -qq prometheus 2>/dev/null); then
    apt-get update -qq
    (cd "$work" && apt-get download -qq prometheus)
  fi
  dpkg-deb -x "$work"/prometheus_*.deb "$work/prometheus"
  install -D -m 0755 "$work/prometheus/usr/bin/promtool" "$TOOLS/bin/promtool"
}

install_python_modules() {
  local missing=()
  python3 -c 'import jsonschema' 2>/dev/null || missing+=(jsonschema)
  python3 -c 'import yaml' 2>/dev/null || missing+=(pyyaml)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Python modules: ${missing[*]}"
  # pip where Python lets it; Debian's own packages where it does not (PEP 668).
  if ! python3 -m pip install --quiet "${missing[@]}" 2>/dev/null; then
    local debs=()
    for m in "${missing[@]}"; do
      case "$m" in
        jsonschema) debs+=(python3-jsonschema) ;;
        pyyaml) debs+=(python3-yaml) ;;
      esac
    done
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" >/dev/null
  fi
}

# The checks that promtool does not do, in Python: alerts' labels, annotations, runbook anchors
# and test coverage; the dashboard's schema and layout; metric names.
cat >"$work/check.py" <<'PY'
import json
import os
import re
import sys
import urllib.request

import jsonschema
import yaml

ALERT_SEVERITIES = {"critical", "warning"}
# Series that Prometheus itself makes, not amends.
PROMETHEUS_SERIES = {"up"}
# Grafana's own variables and the values they stand for when a query is parsed.
GRAFANA_DURATIONS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan",
}


def fail(errors, message):
    errors.append(message)


def done(errors, ok_message):
    for e in errors:
        print(f"  - {e}", file=sys.stderr)
    if errors:
        return 1
    print(ok_message)
    return 0


def alerts_of(path):
    with open(path) as f:
        groups = yaml.safe_load(f)["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def slug(heading):
    """The anchor GitHub gives a Markdown heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def runbook_headings(path):
    if not os.path.exists(path):
        return []
    headings, fenced = [], False
    with open(path) as f:
        for line in f:
            if line.startswith("```"):
                fenced = not fenced
            elif not fenced and re.match(r"#{1,6} ", line):
                headings.append(line.lstrip("#").strip())
    return headings


def check_alerts(alerts_path, tests_path, runbook_path):
    errors = []
    alerts = alerts_of(alerts_path)
    if not os.path.exists(runbook_path):
        fail(errors, f"{runbook_path} not found")
    anchors = {slug(h) for h in runbook_headings(runbook_path)}
    bases = set()
    for a in alerts:
        name = a["alert"]
        severity = a.get("labels", {}).get("severity")
        if severity not in ALERT_SEVERITIES:
            fail(errors, f"{name}: severity {severity!r}, expected one of {sorted(ALERT_SEVERITIES)}")
        notes = a.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not str(notes.get(key, "")).strip():
                fail(errors, f"{name}: no {key} annotation")
        url = notes.get("runbook_url", "")
        m = re.fullmatch(r"(https?://\S+/docs/runbook\.md)#([\w-]+)", url)
        if not m:
            fail(errors, f"{name}: runbook_url {url!r} is not <base>/docs/runbook.md#<anchor>")
            continue
        bases.add(m.group(1))
        if m.group(2) not in anchors:
            fail(errors, f"{name}: runbook_url anchor #{m.group(2)} is no heading of docs/runbook.md")
    if len(bases) > 1:
        fail(errors, f"runbook_url bases differ (one base to change for an operator's copy): {sorted(bases)}")

    # Every runbook section named like an alert belongs to one: no stale sections.
    names = {a["alert"] for a in alerts}
    for h in runbook_headings(runbook_path):
        if re.fullmatch(r"Amends[A-Za-z]+", h) and h not in names:
            fail(errors, f"docs/runbook.md has a section {h} but alerts.yaml no such alert")

    # Every alert fires in some test, at each of its severities.
    with open(tests_path) as f:
        tests = yaml.safe_load(f)["tests"]
    fired = set()
    for t in tests:
        for case in t.get("alert_rule_test", []):
            for exp in case.get("exp_alerts") or []:
                fired.add((case["alertname"], exp.get("exp_labels", {}).get("severity")))
    for a in alerts:
        key = (a["alert"], a.get("labels", {}).get("severity"))
        if key not in fired:
            fail(errors, f"{key[0]} ({key[1]}): no test in alerts.test.yaml in which it fires")
    return done(errors, f"{len(alerts)} alerts: severity, summary, description, runbook anchor and a firing test each")


def panels_of(dashboard):
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", []) or []


def variable_queries(dashboard):
    """(name, expression) of each query variable: label_values(EXPR, label) gives EXPR."""
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q, re.S)
        if m:
            yield v["name"], m.group(1)
        elif re.fullmatch(r"\s*query_result\((.*)\)\s*", q, re.S):
            yield v["name"], re.fullmatch(r"\s*query_result\((.*)\)\s*", q, re.S).group(1)


def dashboard_queries(dashboard):
    """(where, expression, a name for it as a recording rule) of every query."""
    for p in panels_of(dashboard):
        for t in p.get("targets", []) or []:
            if "expr" in t:
                where = f"panel {p.get('id')} {p.get('title')!r} query {t.get('refId')}"
                yield where, t["expr"], f"dashboard_panel_{p.get('id')}_{t.get('refId')}"
    for name, expr in variable_queries(dashboard):
        yield f"variable ${name}", expr, f"dashboard_variable_{name}"


def dashboard_exprs(dashboard):
    for where, expr, _ in dashboard_queries(dashboard):
        yield where, expr


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"  - {path}: {e}")


def check_dashboard(dashboard_path, schema_path, rules_out):
    errors = []
    dashboard = load_json(dashboard_path)
    schema = load_json(schema_path)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for e in sorted(validator.iter_errors(dashboard), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        what = e.validator_value.get("description") if e.validator == "contains" else None
        message = f"no item matches: {what}" if what else e.message
        fail(errors, f"schema: {where}: {message[:200]}")

    # What a schema cannot say: ids unique, panels inside the 24 columns and not overlapping,
    # query letters unique in a panel, every variable used defined.
    ids, cells = set(), {}
    top = dashboard.get("panels", [])
    for p in panels_of(dashboard):
        pid, title = p.get("id"), p.get("title")
        if pid in ids:
            fail(errors, f"panel id {pid} used twice ({title!r})")
        ids.add(pid)
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "xywh"):
            continue
        if g["x"] + g["w"] > 24:
            fail(errors, f"panel {pid} {title!r} ends past column 24")
        if p in top:
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if (x, y) in cells:
                        fail(errors, f"panel {pid} {title!r} overlaps panel {cells[(x, y)]}")
                        break
                    cells[(x, y)] = pid
                else:
                    continue
                break
        refs = [t.get("refId") for t in p.get("targets", []) or []]
        if len(refs) != len(set(refs)):
            fail(errors, f"panel {pid} {title!r}: a query letter (refId) used twice")
    defined = {v.get("name") for v in dashboard.get("templating", {}).get("list", [])}
    for where, expr in dashboard_exprs(dashboard):
        for var in re.findall(r"\$\{?(\w+)", expr):
            if var not in defined and var not in GRAFANA_DURATIONS:
                fail(errors, f"{where}: variable ${var} is not defined in templating")

    # Each query as a recording rule, variables replaced, for promtool to parse.
    rules = []
    for where, expr, record in dashboard_queries(dashboard):
        parsed = re.sub(r"\$\{?(\w+)\}?", lambda m: GRAFANA_DURATIONS.get(m.group(1), "x"), expr)
        rules.append({"record": re.sub(r"\W", "_", record), "expr": parsed})
    with open(rules_out, "w") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, sort_keys=False)
    panels = sum(1 for p in panels_of(dashboard) if p.get("type") != "row")
    return done(errors, f"{dashboard.get('title')!r}: {panels} panels and {len(rules)} queries match the schema, no overlap, variables defined")


def metric_names(expr):
    """The metric names an expression selects (not functions, labels or keywords)."""
    s = re.sub(r"#[^\n]*", " ", expr)
    s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', s)  # strings
    s = re.sub(r"\$\{?\w+\}?", " ", s)                                        # Grafana variables
    s = re.sub(r"\{[^}]*\}", " ", s)                                          # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)                                         # ranges, subqueries
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"(?<![\w:])\d[\w.]*", " ", s)                                 # numbers, durations
    names = set()
    for m in re.finditer(r"[A-Za-z_:][\w:]*", s):
        word = m.group(0)
        if word.lower() in PROMQL_KEYWORDS or re.match(r"\s*\(", s[m.end():]):
            continue
        names.add(word)
    return names


def read_list(path):
    with open(path) as f:
        return {l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")}


def check_names(list_path, alerts_path, dashboard_path):
    errors = []
    exported = read_list(list_path)
    known = exported | PROMETHEUS_SERIES
    dashboard = load_json(dashboard_path)
    sources = [(f"alerts.yaml {a['alert']}", a["expr"]) for a in alerts_of(alerts_path)]
    sources += [(f"dashboard.json {w}", e) for w, e in dashboard_exprs(dashboard)]
    used = set()
    for where, expr in sources:
        names = metric_names(expr)
        if not names:
            fail(errors, f"{where}: selects no metric: {expr.strip()[:80]!r}")
        for n in sorted(names - known):
            fail(errors, f"{where}: {n} is not in metrics.txt")
        used |= names
    # A histogram is used through its buckets; its _sum and _count need no mention.
    histograms = {n[: -len("_bucket")] for n in used if n.endswith("_bucket")}
    unused = sorted(n for n in exported - used
                    if not (n.endswith(("_sum", "_count")) and n.rsplit("_", 1)[0] in histograms))
    if unused:
        print(f"not used by any alert or panel (fine, for information): {', '.join(unused)}")
    return done(errors, f"{len(used)} metric names used in {len(sources)} expressions, all in metrics.txt ({len(exported)} names)")


def check_live(list_path, source):
    errors = []
    if re.match(r"https?://", source):
        with urllib.request.urlopen(source, timeout=10) as r:
            text = r.read().decode()
    else:
        with open(source) as f:
            text = f.read()
    exported = {re.split(r"[{\s]", l, maxsplit=1)[0] for l in text.splitlines()
                if l.strip() and not l.startswith("#")}
    listed = read_list(list_path)
    for n in sorted(exported - listed):
        fail(errors, f"{n} is exported but not in metrics.txt")
    later = sorted(listed - exported)
    if later:
        print("in metrics.txt, not exported now (a labelled series appears once first used): "
              + ", ".join(later))
    return done(errors, f"{source}: every one of the {len(exported)} names exported is in metrics.txt")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    sys.exit({"alerts": check_alerts, "dashboard": check_dashboard, "names": check_names,
              "live": check_live}[command](*args))
PY

failed=()
check() {
  local what="$1"
  shift
  step "$what"
  if "$@"; then
    return 0
  fi
  echo "FAILED: $what" >&2
  failed+=("$what")
}

step "tools"
install_promtool
install_python_modules
echo "$(promtool --version 2>&1 | head -n1); python3 $(python3 -c 'import sys, jsonschema, yaml; from importlib.metadata import version; print(sys.version.split()[0], "jsonschema", version("jsonschema"), "PyYAML", yaml.__version__)')"

cd "$here"
check "alert rules parse (promtool check rules alerts.yaml)" \
  promtool check rules alerts.yaml
check "alert rules pass their unit tests (promtool test rules alerts.test.yaml)" \
  promtool test rules alerts.test.yaml
check "every alert is labelled, annotated, in the runbook and tested" \
  python3 "$work/check.py" alerts alerts.yaml alerts.test.yaml "$repo/docs/runbook.md"
check "dashboard.json matches dashboard.schema.json" \
  python3 "$work/check.py" dashboard dashboard.json dashboard.schema.json "$work/dashboard-queries.yaml"
if [ -s "$work/dashboard-queries.yaml" ]; then
  check "dashboard queries parse as PromQL (promtool, Grafana variables replaced)" \
    promtool check rules "$work/dashboard-queries.yaml"
fi
check "metric names in alerts.yaml and dashboard.json are in metrics.txt" \
  python3 "$work/check.py" names metrics.txt alerts.yaml dashboard.json
if [ -n "$live" ]; then
  check "metrics.txt against $live" python3 "$work/check.py" live metrics.txt "$live"
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "observability checks FAILED (${#failed[@]}):" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "observability checks passed: alerts.yaml, alerts.test.yaml, dashboard.json, metrics.txt"
