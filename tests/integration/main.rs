//! The one integration-test crate: real peers (Kamailio, sipp) on 127.0.0.1, the softphone
//! binary, and deterministic in-process tests of the sans-IO core on a simulated clock.

mod audio_compare;
mod audio_tools;
mod calls;
mod codecs;
mod config;
mod early_media;
mod gui;
mod malformed;
mod peers;
mod registration;
mod runtime_config;
mod screenshots;
mod sim;
mod sim_calls;
mod sim_registration;
mod sound_card;
mod torture;
mod transactions;
