#!/bin/sh
# Installs the load generators of the benchmark's HTTP case, if missing:
# wrk (HTTP/1.1), h2load (HTTP/2; Debian's nghttp2-client) and taskset
# (util-linux), with apt-get (through sudo when not root). The benchmark
# runs this itself when one of them is not found; tests never need them.
#
#   sh benches/http-tools.sh
set -u

missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v h2load >/dev/null 2>&1 || missing="$missing nghttp2-client"
command -v taskset >/dev/null 2>&1 || missing="$missing util-linux"
if [ -z "$missing" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "http-tools.sh: no apt-get here; install$missing by hand" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "http-tools.sh: installing$missing" >&2
# A stale package list makes the install fail: update it, then try again.
$sudo apt-get install -y $missing || {
    $sudo apt-get update && $sudo apt-get install -y $missing
}
