#!/usr/bin/env bash
# The control API beside baresip's HTTP control (httpd module), on the same machine in one
# run: 500 sequential status requests, each on a new connection, timed by farm-bench as a
# whole client process (A: ours, GetStatus; B: baresip's /raw/?reginfo). The ratio A/B is
# the figure; absolute times depend on the machine. Needs baresip-core; builds the release
# binary unless SOFTPHONE_BIN names one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SOFTPHONE_BIN:-}" ]; then
  cargo build --release --locked -q
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  SOFTPHONE_BIN="$target_dir/release/softphone"
fi
bin="$SOFTPHONE_BIN"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" HOME="$work"
token="$("$bin" --api-token)"
"$bin" --headless register=0 recorddevice=null playbackdevice=null ringerdevice=null \
  wpapilistenport="$port" wpapiratelimit=0 < /dev/null > "$work/softphone.log" 2>&1 &
mkdir -p "$work/baresip"
printf 'sip_listen 127.0.0.1:0\nmodule_path /usr/lib/baresip/modules\nmodule_app httpd.so\nhttp_listen 127.0.0.1:%s\n' "$bport" > "$work/baresip/config"
: > "$work/baresip/accounts"
: > "$work/baresip/contacts"
baresip -f "$work/baresip" > "$work/baresip.log" 2>&1 &
sleep 2
python3 benches/api_client.py "http://127.0.0.1:$port/API_GetStatus" 1 "$token"
python3 benches/api_client.py "http://127.0.0.1:$bport/raw/?reginfo" 1
farm-bench -n 7 --timeout 300 \
  --vs "python3 benches/api_client.py http://127.0.0.1:$bport/raw/?reginfo 500" \
  -- python3 benches/api_client.py "http://127.0.0.1:$port/API_GetStatus" 500 "$token"
