#!/usr/bin/env bash
# The two echo cancellers side by side on the same simulated rooms: sonora (AEC3 in pure Rust,
# the default) and the system's WebRTC module (AEC2, the `webrtc-apm` cargo feature). Real
# speech (espeak-ng) goes out of a simulated speaker and comes back into the microphone after
# 30-250 ms at -6/-10/-20 dB with a decaying tail of reflections over a noise floor; printed
# per room: the echo return loss enhancement after 2 s; per canceller: the mean, how much of
# our own speech survives double talk (correlation), and the processing time per 10 ms. The
# test fails when the default is not the better canceller. Builds with the feature (a second
# build of the crate beside the default one); needs espeak-ng, sox and
# libwebrtc-audio-processing-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
args=(--locked --features webrtc-apm --test integration)
[ "$profile" = release ] && args+=(--release)
cargo test "${args[@]}" -- voice_processing:: --nocapture --test-threads 1 2>&1 |
  grep -E '^\| |ERLE|double talk|^test |test result'
