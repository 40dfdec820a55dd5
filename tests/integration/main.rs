//! The one integration-test crate: real peers (Kamailio, sipp) on 127.0.0.1, the softphone
//! binary, and deterministic in-process tests of the sans-IO core on a simulated clock.

// Benchmarks and tests may unwrap (a failure there is a failed run, not bad input), and their
// helpers are pub for the modules of this one crate.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod audio_compare;
mod audio_tools;
mod baresip;
mod calls;
mod chat;
mod codecs;
mod conference;
mod config;
mod contacts;
mod control_api;
mod control_api_web;
mod dns_srv;
mod dtls_srtp;
mod early_media;
mod echo_loopback;
mod gui;
mod gui_contacts;
mod json_faces;
mod malformed;
mod peers;
mod presence;
mod recording;
mod registration;
mod rtp_injection;
mod rtp_latch;
mod runtime_config;
mod screenshots;
mod silence;
mod sim;
mod sim_calls;
mod sim_phone;
mod sim_registration;
mod sipp;
mod sipp_calls;
mod sound_card;
mod srtp;
mod subscription_machines;
mod tls;
mod torture;
mod transactions;
mod transfers;
mod voice_processing;
mod voicemail;
mod websocket;
mod wire_tap;
