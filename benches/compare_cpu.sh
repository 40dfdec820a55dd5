#!/usr/bin/env bash
# CPU of one PCMU call on real sound devices, this softphone beside baresip, in one run on the
# same machine: a private PulseAudio with null sinks (the ALSA pulse plugin gives both programs
# the same "default" device), a far-end baresip answering on 127.0.0.1 with a speech file, and
# each measured client in turn calling it directly (no registrar) for $SECONDS_PER_CALL
# seconds. The figure is the CPU share of a core (utime+stime from /proc over the call); the
# ratio ours/baresip is what counts, absolute shares depend on the machine. Repeated $RUNS
# times, median printed. The softphone runs with its defaults (echo cancellation, noise
# suppression and gain control on); SOFTPHONE_PARAMS adds parameters, e.g. "aec=0 denoise=0
# agc=0" for the chain off. SRTP=1 makes every call SRTP (SDES, AES_CM_128_HMAC_SHA1_80) on
# both sides: baresip's srtp module (`srtp-mand`), our mediaencryption=2. Needs baresip-core, pulseaudio, libasound2-plugins, espeak-ng, sox;
# builds the release binary unless SOFTPHONE_BIN names one.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_CALL=${SECONDS_PER_CALL:-20}
SRTP=${SRTP:-0}
if [ "$SRTP" = 1 ]; then
  srtp_module="module srtp.so"
  far_menc=";mediaenc=srtp"
  me_menc=";mediaenc=srtp-mand"
  our_srtp="mediaencryption=2 srtpkeysinclear=1 srtpsuites=AES_CM_128_HMAC_SHA1_80"
else
  srtp_module="" far_menc="" me_menc="" our_srtp=""
fi
RUNS=${RUNS:-3}
if [ -z "${SOFTPHONE_BIN:-}" ]; then
  cargo build --release --locked -q
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  SOFTPHONE_BIN="$target_dir/release/softphone"
fi
bin="$SOFTPHONE_BIN"
work="$(mktemp -d)"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  [ -f "$work/pulse/pid" ] && kill "$(cat "$work/pulse/pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR="$work" HOME="$work" PULSE_SERVER="unix:$work/pulse/native"
export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data"
pulseaudio --daemonize=yes --exit-idle-time=-1 --system=false -n \
  --load="module-null-sink sink_name=mic" --load="module-null-sink sink_name=spk" \
  --load=module-native-protocol-unix 2>/dev/null
for _ in $(seq 50); do [ -f "$work/pulse/pid" ] && break; sleep 0.1; done
pactl set-default-source mic.monitor
pactl set-default-sink spk

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
espeak-ng -w "$work/raw.wav" "This is the far end talking, one two three four five six seven eight nine ten."
sox "$work/raw.wav" -r 8000 -c 1 -b 16 "$work/far.wav" repeat 30

# The far end: answers by itself, sends speech, plays nowhere.
far_port=$(free_port)
mkdir -p "$work/far"
cat > "$work/far/config" <<EOF
sip_listen 127.0.0.1:$far_port
net_interface 127.0.0.1
rtp_ports 31000-31019
audio_source aufile,$work/far.wav
audio_player aufile,$work/far-heard.wav
audio_alert aufile,$work/far-alert.wav
ausrc_srate 8000
auplay_srate 8000
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
$srtp_module
module_app account.so
module_app menu.so
EOF
echo "<sip:far@127.0.0.1:$far_port;transport=udp>;answermode=auto;audio_codecs=PCMU;regint=0;mwi=no$far_menc" > "$work/far/accounts"
baresip -f "$work/far" > "$work/far.log" 2>&1 &
sleep 1

# CPU share (percent of one core) of process $1 over $2 seconds.
cpu_share() {
  local pid=$1 secs=$2 hz t0 t1
  hz=$(getconf CLK_TCK)
  t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  sleep "$secs"
  t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  python3 -c "print(f'{($t1-$t0)/$hz/$secs*100:.2f}')"
}

ours_once() {
  local port
  port=$(free_port)
  mkfifo "$work/in"
  "$bin" --headless register=0 signalingport="$port" wpapilistenport=0 \
    recorddevice=Default playbackdevice=Default ringerdevice=null $our_srtp ${SOFTPHONE_PARAMS:-} \
    < "$work/in" > "$work/ours.log" 2>&1 &
  local pid=$!
  exec 7> "$work/in"
  sleep 1
  echo "Call,sip:far@127.0.0.1:$far_port" >&7
  for _ in $(seq 100); do grep -q "^STATUS,1,InCall" "$work/ours.log" && break; sleep 0.1; done
  grep -q "^STATUS,1,InCall" "$work/ours.log" || { echo "softphone: no call" >&2; cat "$work/ours.log" >&2; exit 1; }
  sleep 2
  if [ "$SRTP" = 1 ] && ! grep -q "; SRTP AES_CM_128_HMAC_SHA1_80" "$work/ours.log"; then
    echo "softphone: the call is not SRTP" >&2; cat "$work/ours.log" >&2; exit 1
  fi
  cpu_share "$pid" "$SECONDS_PER_CALL"
  echo "Exit" >&7
  exec 7>&-
  wait "$pid" 2>/dev/null || true
  rm -f "$work/in"
}

baresip_once() {
  local port
  port=$(free_port)
  rm -rf "$work/me" && mkdir -p "$work/me"
  cat > "$work/me/config" <<EOF
sip_listen 127.0.0.1:$port
net_interface 127.0.0.1
rtp_ports 32000-32019
audio_source alsa,default
audio_player alsa,default
audio_alert alsa,default
module_path /usr/lib/baresip/modules
module g711.so
module alsa.so
$srtp_module
module_app account.so
module_app menu.so
EOF
  echo "<sip:me@127.0.0.1:$port;transport=udp>;audio_codecs=PCMU;regint=0;mwi=no$me_menc" > "$work/me/accounts"
  baresip -f "$work/me" -e "/dial sip:far@127.0.0.1:$far_port" > "$work/me.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q "Call established" "$work/me.log" && break; sleep 0.1; done
  grep -q "Call established" "$work/me.log" || { echo "baresip: no call" >&2; cat "$work/me.log" >&2; exit 1; }
  sleep 2
  if [ "$SRTP" = 1 ] && ! grep -q "SRTP is Enabled" "$work/me.log"; then
    echo "baresip: the call is not SRTP" >&2; cat "$work/me.log" >&2; exit 1
  fi
  cpu_share "$pid" "$SECONDS_PER_CALL"
  kill "$pid" 2>/dev/null; sleep 1; kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }
ours=(); theirs=()
for run in $(seq "$RUNS"); do
  ours+=("$(ours_once)")
  theirs+=("$(baresip_once)")
  echo "run $run: softphone ${ours[-1]} %, baresip ${theirs[-1]} % of a core" >&2
done
o=$(median "${ours[@]}"); b=$(median "${theirs[@]}")
echo "one PCMU call$([ "$SRTP" = 1 ] && echo ' with SRTP') on the PulseAudio null sink, median of $RUNS x ${SECONDS_PER_CALL}s:"
echo "  softphone: $o % of a core"
echo "  baresip:   $b % of a core"
python3 -c "b=float('$b'); o=float('$o'); print(f'  ratio softphone/baresip: {o/b:.2f}' if b > 0 else '  baresip measured 0')"
