#!/usr/bin/env bash
# Measures 'protocols serve' over TUN with wrk (HTTP/1.1) and h2load (HTTP/2 over TLS), each in
# its own network namespace, next to a reference server on the kernel's own sockets in the same run.
# usage: serve-bench.sh NAME=PROTOCOLS_DLL... [--nginx] [--kestrel-sockets DLL] [--seconds S]
# --kestrel-sockets: serve's web app on the kernel's own sockets (benchmarks/serve/KestrelOnSockets).
# A NAME ending in -h1 is measured with wrk only (a server without HTTP/2).
# Every target gets the same load; results go to stdout, one line per measurement.
set -uo pipefail
seconds=10
targets=()
nginx=0
kestrel=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --nginx) nginx=1; shift ;;
    --kestrel-sockets) kestrel=$2; shift 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

cleanup() {
  for ns in $(ip netns list | awk '/^protocols-bench-/{print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
}
trap cleanup EXIT

run_target() { # name dll index
  local name=$1 dll=$2 i=$3 ns=protocols-bench-$i
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" ip tuntap add dev tun0 mode tun
  ip netns exec "$ns" dotnet "$dll" serve --tun tun0 --address 10.66.0.2/24 --http 8080 --https 8443 >/tmp/$ns.out 2>/tmp/$ns.err &
  for _ in $(seq 100); do grep -q ready /tmp/$ns.out 2>/dev/null && break; sleep 0.1; done
  ip -n "$ns" addr add 10.66.0.1/24 dev tun0
  ip -n "$ns" link set tun0 up
  sleep 0.5
  ip netns exec "$ns" wrk -t 2 -c 100 -d 3s http://10.66.0.2:8080/bytes/1000 >/dev/null 2>&1 # warm-up (JIT tiers)
  echo "== $name wrk http/1.1 GET /bytes/1000 (uptime: $(uptime | sed 's/.*average: //'))"
  ip netns exec "$ns" wrk -t 2 -c 100 -d ${seconds}s http://10.66.0.2:8080/bytes/1000 | grep -E "Requests/sec|Socket errors|Non-2xx|requests in"
  if [ "${H2:-1}" = 1 ] && [ "${name%-h1}" = "$name" ]; then
    echo "== $name h2load h2 over TLS -c 10 -m 100 -n 200000 GET /bytes/1000"
    ip netns exec "$ns" timeout 120 h2load -c 10 -m 100 -n 200000 https://10.66.0.2:8443/bytes/1000 2>&1 | grep -E "^finished|^requests:|^status codes"
  fi
  pkill -INT -F /dev/null 2>/dev/null
  ip netns pids "$ns" | xargs -r kill -INT
  sleep 1
  ip netns del "$ns"
}

i=0
for t in "${targets[@]}"; do
  run_target "${t%%=*}" "${t#*=}" $i
  i=$((i+1))
done

if [ "$nginx" = 1 ]; then
  ns=protocols-bench-nginx
  ip netns add $ns; ip -n $ns link set lo up
  d=$(mktemp -d); chmod 755 "$d"
  head -c 1000 /dev/zero > $d/1000; chmod 644 $d/1000
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $d/k.pem -out $d/c.pem -subj /CN=localhost -days 1 2>/dev/null
  cat > $d/nginx.conf <<NGX
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:8080; listen 127.0.0.1:8443 ssl http2; ssl_certificate $d/c.pem; ssl_certificate_key $d/k.pem;
    location /bytes/ { alias $d/; } }
}
NGX
  ip netns exec $ns nginx -c $d/nginx.conf
  sleep 0.5
  ip netns exec $ns wrk -t 2 -c 100 -d 1s http://127.0.0.1:8080/bytes/1000 >/dev/null 2>&1
  echo "== nginx (1 worker, kernel sockets) wrk http/1.1 GET /bytes/1000 (uptime: $(uptime | sed 's/.*average: //'))"
  ip netns exec $ns wrk -t 2 -c 100 -d ${seconds}s http://127.0.0.1:8080/bytes/1000 | grep -E "Requests/sec|Socket errors|Non-2xx|requests in"
  echo "== nginx h2load h2 over TLS -c 10 -m 100 -n 200000"
  ip netns exec $ns timeout 120 h2load -c 10 -m 100 -n 200000 https://127.0.0.1:8443/bytes/1000 2>&1 | grep -E "^finished|^requests:|^status codes"
  kill "$(cat $d/nginx.pid)"
  rm -rf "$d"
fi

if [ -n "$kestrel" ]; then
  ns=protocols-bench-kestrel
  ip netns add $ns; ip -n $ns link set lo up
  ip netns exec $ns dotnet "$kestrel" 8080 8443 >/tmp/$ns.out 2>/tmp/$ns.err &
  for _ in $(seq 100); do grep -q ready /tmp/$ns.out 2>/dev/null && break; sleep 0.1; done
  ip netns exec $ns wrk -t 2 -c 100 -d 3s http://127.0.0.1:8080/bytes/1000 >/dev/null 2>&1
  echo "== kestrel on kernel sockets wrk http/1.1 GET /bytes/1000 (uptime: $(uptime | sed 's/.*average: //'))"
  ip netns exec $ns wrk -t 2 -c 100 -d ${seconds}s http://127.0.0.1:8080/bytes/1000 | grep -E "Requests/sec|Socket errors|Non-2xx|requests in"
  echo "== kestrel on kernel sockets h2load h2 over TLS -c 10 -m 100 -n 200000 GET /bytes/1000"
  ip netns exec $ns timeout 120 h2load -c 10 -m 100 -n 200000 https://127.0.0.1:8443/bytes/1000 2>&1 | grep -E "^finished|^requests:|^status codes"
  ip netns pids $ns | xargs -r kill -INT
  sleep 1
  ip netns del $ns
fi
