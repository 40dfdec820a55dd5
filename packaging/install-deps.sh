#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the softphone and its test suite need:
# a C toolchain and the libraries the -sys crates link (libopus, ALSA; libclang for the
# bindings of libspeex; WebRTC's audio processing module for the `webrtc-apm` feature, which
# benches/compare_aec.sh measures against the default echo canceller; bcg729 for the opt-in,
# GPL-3.0 `g729` feature, whose codec test the test command runs too); the real peers the
# tests start on 127.0.0.1 (Kamailio as registrar/proxy, baresip as the far end of calls, sipp);
# espeak-ng and sox for test speech; PulseAudio with ALSA's pulse plugin, which gives the
# sound-card tests real devices on a machine without a sound card; a D-Bus daemon and
# gnome-keyring, a real Secret Service for the keyring test; for the window, the X11/Wayland and
# OpenGL libraries it loads at run time (Mesa's software renderer included), and Xvfb,
# xdotool and ImageMagick, with which the tests open it on a virtual screen and photograph it;
# Chromium, the real browser that loads the click-to-call page in the control API's test.
# Safe to run again: only missing packages are installed.
set -euo pipefail

packages=(build-essential pkg-config ca-certificates libopus-dev libasound2-dev
  libwebrtc-audio-processing-dev libclang-dev libbcg729-dev
  kamailio kamailio-presence-modules kamailio-tls-modules kamailio-websocket-modules dnsmasq-base sip-tester baresip-core espeak-ng sox pulseaudio pulseaudio-utils libasound2-plugins
  dbus-daemon gnome-keyring
  libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcursor1 libxi6 libxrandr2 libwayland-client0
  xvfb xdotool imagemagick chromium)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (https://rustup.rs) and run this again" >&2
  exit 1
fi
