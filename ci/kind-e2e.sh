#!/usr/bin/env bash
# Runs the e2e scenarios on a kind cluster:
#   1. creates the cluster (ci/kind-config.yaml; KIND_NODE_IMAGE picks the Kubernetes version),
#   2. builds the builder and odo init images from ci/images/ under the references odo's pods
#      use, pulls busybox and hello-openshift, and loads them all into the nodes,
#   3. runs `cargo test -p e2e --test kind -- --ignored` against that cluster (KIND_CLUSTER),
#   4. on failure keeps the traces and `kubectl get events -A` (and pods) under $ARTIFACTS,
#   5. always deletes the cluster (unless KEEP_CLUSTER=1).
# Needs: kind, docker, kubectl, cargo. Usage: ci/kind-e2e.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${KIND_CLUSTER_NAME:-odo-e2e}"
ARTIFACTS="${ARTIFACTS:-target/e2e-artifacts}"
NODE_IMAGE="${KIND_NODE_IMAGE:-}"

for tool in kind docker kubectl cargo; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "kind-e2e: '$tool' is not on PATH; install it first (see README: End-to-end tests on kind)" >&2
    exit 2
  fi
done

cleanup() {
  if [[ "${KEEP_CLUSTER:-0}" == "1" ]]; then
    echo "kind-e2e: keeping cluster $CLUSTER (KIND_CLUSTER=$CLUSTER reuses it)"
  else
    kind delete cluster --name "$CLUSTER" || true
  fi
}
trap cleanup EXIT

create=(kind create cluster --name "$CLUSTER" --config ci/kind-config.yaml --wait 120s)
if [[ -n "$NODE_IMAGE" ]]; then create+=(--image "$NODE_IMAGE"); fi
echo "+ ${create[*]}"
"${create[@]}"
kubeconfig="$(mktemp)"
kind get kubeconfig --name "$CLUSTER" >"$kubeconfig"
export KUBECONFIG="$kubeconfig"

# Images odo's pods and the scenarios reference, built or pulled locally and loaded into the nodes.
declare -A built=(
  [odo-init]="registry.access.redhat.com/ocp-tools-4/odo-init-container-rhel8:1.1.5"
  [nodejs-14]="registry.access.redhat.com/ubi8/nodejs-14:latest"
  [openjdk-11]="registry.access.redhat.com/ubi8/openjdk-11:latest"
  [python-38]="registry.access.redhat.com/ubi8/python-38:latest"
)
for dir in "${!built[@]}"; do
  echo "+ docker build -t ${built[$dir]} ci/images/$dir"
  docker build -q -t "${built[$dir]}" "ci/images/$dir"
done
pulled=(busybox:latest openshift/hello-openshift:latest)
for img in "${pulled[@]}"; do docker pull -q "$img"; done
for img in "${built[@]}" "${pulled[@]}"; do
  kind load docker-image "$img" --name "$CLUSTER"
done

status=0
# The images are loaded above: the suite need not load them again.
KIND_CLUSTER="$CLUSTER" ODO_E2E_KIND_LOAD=0 \
  cargo test -p e2e --test kind every_scenario_on_kind -- --ignored --nocapture "$@" || status=$?

if [[ $status -ne 0 ]]; then
  mkdir -p "$ARTIFACTS"
  echo "kind-e2e: the suite failed; collecting diagnostics in $ARTIFACTS"
  kubectl get events -A --sort-by=.lastTimestamp >"$ARTIFACTS/events.txt" 2>&1 || true
  kubectl get pods -A -o wide >"$ARTIFACTS/pods.txt" 2>&1 || true
  kind export logs "$ARTIFACTS/kind-logs" --name "$CLUSTER" >/dev/null 2>&1 || true
  cp -r "${ODO_E2E_TRACES:-target/e2e-traces}" "$ARTIFACTS/" 2>/dev/null || true
fi
# Where the simulator differs from this cluster (informational: needs the sim traces too).
if [[ -d "${ODO_E2E_TRACES:-target/e2e-traces}/sim" ]]; then
  cargo run -q -p e2e --bin trace-diff || true
fi
rm -f "$kubeconfig"
exit $status
