#!/usr/bin/env bash
# Installs every build, test and run dependency of Skiff from Debian 12 packages.
# Idempotent: packages already present are left as they are. Must run as root.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libspdlog-dev libfmt-dev libsqlite3-dev libcli11-dev
  libsystemd-dev libabsl-dev libcurl4-openssl-dev libssl-dev libinih-dev
  libmicrohttpd-dev  # the AWS JSON API over HTTP (ADR 0012)
  prometheus-cpp-dev  # GET /metrics
  libldns-dev  # the DNS wire format of skiff-dns, the node's resolver (ADR 0014)
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-botocore awscli sqlite3
  clang-14 libclang-rt-14-dev  # libFuzzer and its sanitizers: the fuzz targets (scripts/fuzz.sh)
  dnsutils dnsmasq-base  # dig asks skiff-dns in its tests; dnsmasq runs beside it in dns_bench
  prometheus  # promtool and a real server scraping skiffd's /metrics
  openssl  # a self-signed certificate for the HTTPS test
  # systemd-analyze, which verifies the installed unit (tests/packaging)
  systemd
  # containerd's API protos, taken at build time
  golang-github-containerd-containerd-dev golang-github-gogo-googleapis-dev
  golang-github-containerd-cgroups-dev
  # runtime (tini gives /usr/bin/tini-static, the init for initProcessEnabled)
  containerd runc tini busybox-static iproute2 procps util-linux ca-certificates curl
  # bridge/awsvpc networking: the CNI plugins skiffd chains, and the iptables they drive
  containernetworking-plugins iptables
  # registry tests: a real registry on loopback, and skopeo to push the test images into it
  docker-registry skopeo apache2-utils  # htpasswd: bcrypt entries for the registry's basic auth
  # the load balancer's data plane; wrk loads it in bench/lb_bench; jq reads ARNs in the README
  haproxy wrk jq
  bsdutils  # script(1): a terminal for the pull-image progress test
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
