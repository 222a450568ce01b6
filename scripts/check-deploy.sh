#!/usr/bin/env bash
# Static checks of the deployment files (there is no container engine on CI or the dev machines):
#   scripts/check-deploy.sh            every check
#   scripts/check-deploy.sh STEP...    only those: compose prometheus kustomize python
# Needs docker-compose, promtool and kubectl (Debian: apt-get install -y docker-compose prometheus;
# kubectl ships with the machine image). Exits non-zero on the first failing step.
set -euo pipefail

cd "$(dirname "$0")/.."

need() {
    local tool=$1 how=$2
    if ! command -v "$tool" > /dev/null 2>&1; then
        echo "check-deploy: '$tool' is not installed; install it with: $how" >&2
        exit 2
    fi
}

# Placeholder secrets: `config` must render with them and must refuse to render without them.
compose_env=(
    SCANTRACE_AUTH_SECRET=check-deploy-placeholder-secret-0123456789
    SCANTRACE_QR_SIGNING_KEY=k1:placeholder
    SCANTRACE_QR_VERIFY_KEYS=k1:placeholder
    GRAFANA_ADMIN_PASSWORD=placeholder
)

step_compose() {
    need docker-compose "apt-get install -y docker-compose"
    echo "== docker-compose config"
    env "${compose_env[@]}" docker-compose -f docker-compose.yml config -q
    local var
    for var in "${compose_env[@]}"; do
        local name=${var%%=*}
        local others=()
        local other
        for other in "${compose_env[@]}"; do
            [[ $other == "$name="* ]] || others+=("$other")
        done
        if env -u "$name" "${others[@]}" docker-compose -f docker-compose.yml config -q > /dev/null 2>&1; then
            echo "check-deploy: docker-compose.yml renders without $name: secrets must be \${VAR:?}" >&2
            return 1
        fi
    done
    echo "compose: valid; refuses to render without each of its ${#compose_env[@]} secrets"
}

step_prometheus() {
    need promtool "apt-get install -y prometheus"
    echo "== promtool"
    promtool check config deploy/prometheus/prometheus.yml
    promtool check config deploy/k8s/base/monitoring/prometheus-scrape.yml
    promtool check rules deploy/prometheus/alerts.yml
    promtool test rules deploy/prometheus/alerts.test.yml
}

step_kustomize() {
    need kubectl "the kubectl package (it ships with the machine image; or https://kubernetes.io/docs/tasks/tools/)"
    echo "== kubectl kustomize"
    local dir
    for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
        dir=${dir%/}
        kubectl kustomize "$dir" > /dev/null
        echo "$dir: renders"
    done
}

# Dashboards, metric names, runbook anchors, manifests and Dockerfiles: checked in Python.
step_python() {
    echo "== pytest deployment checks"
    uv run pytest -q -p no:cacheprovider tests/unit/test_deploy_refs.py tests/unit/test_deploy_manifests.py \
        tests/unit/test_deploy_images.py
}

steps=("$@")
if [[ ${#steps[@]} -eq 0 ]]; then
    steps=(compose prometheus kustomize python)
fi
for step in "${steps[@]}"; do
    case $step in
        compose | prometheus | kustomize | python) "step_$step" ;;
        *)
            echo "check-deploy: unknown step '$step' (compose prometheus kustomize python)" >&2
            exit 2
            ;;
    esac
done
echo "check-deploy: all passed (${steps[*]})"
