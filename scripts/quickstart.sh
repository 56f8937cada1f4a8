#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install every dependency, build skiffd and
# skiff, make sure containerd runs, start skiffd on its embedded defaults, register the example
# task definitions, load the example image, run two of the examples as tasks (a one-off job
# without network, and a metrics agent on the host network) and one as a service of 3 tasks
# (heartbeat-worker, no network). Safe to run again: what already runs is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKET=/run/skiff/skiffd.sock
CONTAINERD_SOCKET=/run/containerd/containerd.sock
LOG_DIR=/var/log/skiff

./scripts/install-deps.sh

echo "quickstart: building (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target skiffd skiff

mkdir -p "$LOG_DIR"

# containerd: use the running one, else let systemd start it, else start it ourselves.
if ctr --address "$CONTAINERD_SOCKET" version >/dev/null 2>&1; then
  echo "quickstart: containerd already running at $CONTAINERD_SOCKET"
elif [[ -d /run/systemd/system ]] && systemctl start containerd 2>/dev/null; then
  echo "quickstart: started containerd with systemd"
else
  echo "quickstart: starting containerd (log: $LOG_DIR/containerd.log)"
  nohup containerd >"$LOG_DIR/containerd.log" 2>&1 &
fi
for _ in $(seq 1 100); do
  ctr --address "$CONTAINERD_SOCKET" version >/dev/null 2>&1 && break
  sleep 0.1
done
ctr --address "$CONTAINERD_SOCKET" version >/dev/null

skiff() { build/bin/skiff --socket "$SOCKET" "$@"; }

# Whatever fails, the last line says which step it was: the command's own message is above it.
step="setting up"
trap 'echo "quickstart: failed while $step (the reason is above)" >&2' ERR

# Starts a task of FAMILY unless one is running, and prints its ARN. When skiffd cannot start
# it, `skiff run-task` has said why on stderr; HINT says what to change.
start_task() {  # FAMILY HINT
  local arn
  arn=$(skiff list-tasks --family "$1" --output table | head -1)
  if [[ -z $arn ]]; then
    if ! arn=$(skiff run-task --task-definition "$1" --started-by quickstart --output table |
      awk '$1 == "tasks[0].taskArn" { print $2 }'); then
      echo "quickstart: could not start a task of $1. $2" >&2
      return 1
    fi
  fi
  echo "$arn"
}

port_hint() {  # PORT FILE
  echo "If the reason is RESOURCE:PORTS, host port $1 is taken (see: ss -ltnp 'sport = :$1')," \
    "or a DNAT rule of another program redirects it (iptables-save -t nat | grep $1):" \
    "free it, or change its hostPort in $2, then run this script again."
}

# skiffd: reuse a running one, else start it on the embedded defaults.
if skiff list-task-definition-families >/dev/null 2>&1; then
  echo "quickstart: skiffd already running at $SOCKET"
else
  echo "quickstart: starting skiffd (log: $LOG_DIR/skiffd.log)"
  nohup build/bin/skiffd >"$LOG_DIR/skiffd.log" 2>&1 &
  skiffd_failed() {
    cat "$LOG_DIR/skiffd.log" >&2
    echo "quickstart: skiffd did not start; its log is above ($LOG_DIR/skiffd.log). Its flags" \
      "(--bridge, --subnet, --http-address, --lb-address ...) are in 'build/bin/skiffd --help'" \
      "and README.md; a skiffd already running elsewhere can be stopped with: pkill -TERM -x" \
      "skiffd" >&2
    exit 1
  }
  for _ in $(seq 1 150); do
    grep -q "skiffd ready" "$LOG_DIR/skiffd.log" 2>/dev/null && break
    kill -0 $! 2>/dev/null || skiffd_failed
    sleep 0.1
  done
  grep -q "skiffd ready" "$LOG_DIR/skiffd.log" || skiffd_failed
fi

step="registering the example task definitions"
echo "quickstart: registering examples/task-definitions/*.json"
for file in examples/task-definitions/*.json; do
  skiff register-task-definition --cli-input-json "file://$PWD/$file" --output table |
    awk '$1 == "taskDefinition.taskDefinitionArn" { print "  registered " $2 }'
done

echo
echo "quickstart: task definition families"
skiff list-task-definition-families --output table
echo
echo "quickstart: the web-frontend task definition, as ECS returns it"
skiff describe-task-definition --task-definition web-frontend
echo
echo "quickstart: loading the example image (busybox from Debian's busybox-static)"
step="loading the example image"
./scripts/build-test-image.sh build/busybox-image.tar >/dev/null
skiff load-image --input build/busybox-image.tar --output table

echo
echo "quickstart: a one-off task without network: offline-integrity-check"
step="running offline-integrity-check"
job=$(skiff run-task --task-definition offline-integrity-check --started-by quickstart \
  --output table | awk '$1 == "tasks[0].taskArn" { print $2 }')
skiff wait tasks-stopped --tasks "$job" --timeout 120
skiff logs --task "$job"
skiff describe-tasks --tasks "$job" --output table |
  awk '$1 ~ /^tasks\[0\]\.(lastStatus|stopCode|containers\[0\]\.exitCode)$/'

echo
echo "quickstart: a long-running task on the host network: node-metrics-agent (port 19100)"
step="starting node-metrics-agent"
agent=$(start_task node-metrics-agent \
  "$(port_hint 19100 examples/task-definitions/node-metrics-agent.json)")
skiff wait tasks-running --tasks "$agent" --timeout 120
for _ in $(seq 1 50); do
  curl -fsS http://127.0.0.1:19100/metrics 2>/dev/null | grep -q node_load1 && break
  sleep 0.2
done
curl -fsS http://127.0.0.1:19100/metrics | head -3
echo "  (task $agent; stop it with: build/bin/skiff stop-task --task $agent)"

echo
echo "quickstart: a web server on the bridge network: web-frontend (container port 8080 on host port 18080)"
step="starting web-frontend"
web=$(start_task web-frontend "$(port_hint 18080 examples/task-definitions/web-frontend.json)")
skiff wait tasks-running --tasks "$web" --timeout 120
for _ in $(seq 1 50); do
  curl -fsS http://127.0.0.1:18080/ 2>/dev/null | grep -q Storefront && break
  sleep 0.2
done
curl -fsS http://127.0.0.1:18080/
skiff describe-tasks --tasks "$web" --output table |
  awk '$1 ~ /^tasks\[0\]\.containers\[0\]\.(networkBindings|networkInterfaces)/'
echo "  (task $web; stop it with: build/bin/skiff stop-task --task $web)"

echo
echo "quickstart: a service that keeps 3 tasks of heartbeat-worker running (no network)"
step="starting the heartbeat service"
status=$(skiff describe-services --services heartbeat --output table |
  awk '$1 == "services[0].status" { print $2 }')
if [[ $status == ACTIVE ]]; then
  skiff update-service --service heartbeat --desired-count 3 >/dev/null
else
  skiff create-service --service-name heartbeat --task-definition heartbeat-worker \
    --desired-count 3 --deployment-configuration \
    '{"maximumPercent": 200, "minimumHealthyPercent": 50}' >/dev/null
fi
skiff wait services-stable --services heartbeat --timeout 180
skiff describe-services --services heartbeat --output table |
  awk '$1 ~ /^services\[0\]\.(serviceArn|status|desiredCount|runningCount|pendingCount)$/ ||
       $1 ~ /^services\[0\]\.deployments\[[0-9]+\]\.(status|rolloutState)$/ ||
       $1 == "services[0].events[0].message"'
echo "  (scale it with: build/bin/skiff update-service --service heartbeat --desired-count N;"
echo "   remove it with: build/bin/skiff delete-service --service heartbeat --force)"

echo
echo "quickstart: 3 tasks of web-behind-lb behind a load balancer listening on port 8000"
step="making the load balancer and its target group"
lb=$(skiff elbv2 create-load-balancer --name web --subnets subnet-1 |
  jq -r '.LoadBalancers[0].LoadBalancerArn')
tg=$(skiff elbv2 create-target-group --name web --protocol HTTP --port 8080 --vpc-id vpc-1 \
  --target-type instance --health-check-path /healthz --health-check-interval-seconds 5 \
  --healthy-threshold-count 2 | jq -r '.TargetGroups[0].TargetGroupArn')
step="making the listener on port 8000 (if it is taken: free it, or change --port here)"
if [[ $(skiff elbv2 describe-listeners --load-balancer-arn "$lb" | jq '.Listeners | length') == 0 ]]
then
  skiff elbv2 create-listener --load-balancer-arn "$lb" --protocol HTTP --port 8000 \
    --default-actions "[{\"Type\": \"forward\", \"TargetGroupArn\": \"$tg\"}]" >/dev/null
fi
step="starting the web service behind the load balancer"
status=$(skiff describe-services --services web --output table |
  awk '$1 == "services[0].status" { print $2 }')
if [[ $status != ACTIVE ]]; then
  skiff create-service --service-name web --task-definition web-behind-lb --desired-count 3 \
    --load-balancers \
    "[{\"targetGroupArn\": \"$tg\", \"containerName\": \"web\", \"containerPort\": 8080}]" \
    >/dev/null
fi
skiff wait services-stable --services web --timeout 180
skiff elbv2 describe-target-health --target-group-arn "$tg" |
  jq -r '.TargetHealthDescriptions[] | "  target \(.Target.Port): \(.TargetHealth.State)"'
curl -fsS http://127.0.0.1:8000/
echo "  (README, 'Load balancing'; remove it with: build/bin/skiff delete-service --service web"
echo "   --force, then skiff elbv2 delete-load-balancer and delete-target-group)"

echo
echo "quickstart: the same service through the AWS CLI, over skiffd's AWS API (SigV4-signed)"
step="asking skiffd's AWS API at 127.0.0.1:7557 (skiffd's --http-address)"
AWS_SHARED_CREDENTIALS_FILE=/var/lib/skiff/aws-credentials AWS_PROFILE=skiff \
  AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_PAGER= \
  /usr/bin/aws --endpoint-url http://127.0.0.1:7557 ecs describe-services --services heartbeat \
  --query 'services[0].{service: serviceName, status: status, running: runningCount}' \
  --output table
echo "  (README, 'The AWS CLI and SDKs'; Prometheus metrics: curl http://127.0.0.1:7557/metrics)"

echo
echo "skiffd runs in the background (pid $(pgrep -xo skiffd || echo '?'), log $LOG_DIR/skiffd.log)."
echo "Try: build/bin/skiff list-task-definitions; stop it with: pkill -TERM -x skiffd"
