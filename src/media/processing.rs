//! The capture side's voice processing, as a frame stage: echo cancellation (its reference is
//! exactly what the speaker plays after mixing), noise suppression and automatic gain control.
//! A WebRTC audio processing pipeline does the work; it takes 10 ms frames at 48 kHz, and the
//! bridge's 20 ms frames at the bridge's rate are converted around it (no conversion when the
//! bridge runs at 48 kHz, as it does on sound cards).
//!
//! Two implementations can run it (`Backend`). The default is sonora (cargo feature `sonora`,
//! on by default), a pure-Rust port of the current WebRTC pipeline: AEC3, its noise suppressor
//! and AGC2. The other is the system's libwebrtc-audio-processing (feature `webrtc-apm`, the
//! webrtc-audio-processing crate): AEC2, the older suppressor and AGC1. Measured side by side
//! on the same simulated rooms (`benches/compare_aec.sh`, figures in the README), AEC3 takes
//! the echo 32-46 dB down at every delay from 30 to 250 ms where AEC2 loses it beyond about
//! 130 ms (2 dB at 200 ms), for about 2.5 times the processing time; double talk is about the
//! same. Echo paths of 150-300 ms are what Bluetooth headsets and USB speakerphones have, so
//! AEC3 is the default. Either feature alone builds; with neither there is no processing.
//!
//! The reference's switches: AEC3 adapts its suppression to the echo it finds, so `aec` 1-3
//! and `aec2` only turn it on; on the system library they map onto its three echo suppression
//! levels (`aec` 1 and 2 moderate, 3 high; `aec2` 1 or 2 raises moderate to high). `denoise`
//! 1-3 are low, moderate and high; `agc` 1 is a fixed digital gain, 2 and 3 the adaptive
//! digital controller (AGC2's limiter is always on; AGC1's only at 3).

#[cfg(not(any(feature = "sonora", feature = "webrtc-apm")))]
compile_error!("voice processing needs the `sonora` or the `webrtc-apm` feature");

use super::resample::Resampler;
use super::session::bridge_frame;
use thiserror::Error;
#[cfg(feature = "webrtc-apm")]
use webrtc_audio_processing as apm;

/// What the library runs at.
const APM_RATE: u32 = 48_000;
/// Its frame: 10 ms.
const APM_FRAME: usize = (APM_RATE / 100) as usize;

/// Which processing runs, from `aec`, `aec2`, `denoise` and `agc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoiceSettings {
    /// Echo suppression: 0 off, 1 low, 2 moderate, 3 high.
    pub echo: u8,
    /// Noise suppression: 0 off, 1 low, 2 moderate, 3 high.
    pub noise: u8,
    /// Gain control: 0 off, 1 fixed digital, 2 adaptive digital, 3 adaptive with limiter.
    pub gain: u8,
}

impl VoiceSettings {
    /// From the parameters' values (out-of-range values count as their nearest end).
    pub fn from_params(aec: i64, aec2: i64, denoise: i64, agc: i64) -> VoiceSettings {
        let echo = match (aec.clamp(0, 3), aec2.clamp(0, 2)) {
            (0, _) => 0,
            (3, _) | (_, 1 | 2) => 3,
            _ => 2,
        };
        VoiceSettings {
            echo,
            noise: denoise.clamp(0, 3) as u8,
            gain: agc.clamp(0, 3) as u8,
        }
    }

    /// Whether anything runs at all.
    pub fn any(&self) -> bool {
        self.echo > 0 || self.noise > 0 || self.gain > 0
    }

    #[cfg(feature = "webrtc-apm")]
    fn config(&self) -> apm::Config {
        use apm::{EchoCancellationSuppressionLevel as Echo, NoiseSuppressionLevel as Noise};
        apm::Config {
            echo_cancellation: (self.echo > 0).then_some(apm::EchoCancellation {
                suppression_level: match self.echo {
                    1 => Echo::Low,
                    2 => Echo::Moderate,
                    _ => Echo::High,
                },
                // The devices' delay is not known exactly: the library finds it.
                stream_delay_ms: None,
                enable_delay_agnostic: true,
                enable_extended_filter: true,
            }),
            noise_suppression: (self.noise > 0).then_some(apm::NoiseSuppression {
                suppression_level: match self.noise {
                    1 => Noise::Low,
                    2 => Noise::Moderate,
                    _ => Noise::High,
                },
            }),
            gain_control: (self.gain > 0).then_some(apm::GainControl {
                mode: if self.gain == 1 {
                    apm::GainControlMode::FixedDigital
                } else {
                    apm::GainControlMode::AdaptiveDigital
                },
                target_level_dbfs: 3,
                compression_gain_db: 9,
                enable_limiter: self.gain == 3,
            }),
            enable_high_pass_filter: true,
            ..apm::Config::default()
        }
    }
}

/// Which implementation runs the voice processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The system's libwebrtc-audio-processing (AEC2, its noise suppressor, AGC1).
    #[cfg(feature = "webrtc-apm")]
    WebrtcApm,
    /// sonora: AEC3, the newer noise suppressor and AGC2, in pure Rust.
    #[cfg(feature = "sonora")]
    Sonora,
}

impl Backend {
    /// What calls use: the one that measures better (see the module's documentation).
    #[cfg(feature = "sonora")]
    pub const DEFAULT: Backend = Backend::Sonora;
    /// What calls use in a build without sonora.
    #[cfg(not(feature = "sonora"))]
    pub const DEFAULT: Backend = Backend::WebrtcApm;

    /// Every backend in this build (for side-by-side measurements).
    pub fn all() -> &'static [Backend] {
        &[
            #[cfg(feature = "sonora")]
            Backend::Sonora,
            #[cfg(feature = "webrtc-apm")]
            Backend::WebrtcApm,
        ]
    }
}

#[cfg(feature = "sonora")]
impl VoiceSettings {
    fn sonora_config(&self) -> sonora::Config {
        use sonora::config as sc;
        sonora::Config {
            high_pass_filter: Some(sc::HighPassFilter::default()),
            // AEC3 has no suppression levels: it adapts its suppression to the echo it finds.
            echo_canceller: (self.echo > 0).then(sc::EchoCanceller::default),
            noise_suppression: (self.noise > 0).then(|| sc::NoiseSuppression {
                level: match self.noise {
                    1 => sc::NoiseSuppressionLevel::Low,
                    2 => sc::NoiseSuppressionLevel::Moderate,
                    _ => sc::NoiseSuppressionLevel::High,
                },
                ..sc::NoiseSuppression::default()
            }),
            // AGC2: a fixed gain (1) or the adaptive digital controller (2, 3), whose limiter
            // is always on.
            gain_controller2: (self.gain > 0).then(|| sc::GainController2 {
                adaptive_digital: (self.gain > 1).then(sc::AdaptiveDigital::default),
                fixed_digital: sc::FixedDigital {
                    gain_db: if self.gain == 1 { 9.0 } else { 0.0 },
                },
                ..sc::GainController2::default()
            }),
            ..sonora::Config::default()
        }
    }
}

/// The library instance behind a processor.
enum Engine {
    #[cfg(feature = "webrtc-apm")]
    Webrtc(Box<apm::Processor>),
    #[cfg(feature = "sonora")]
    Sonora {
        apm: Box<sonora::AudioProcessing>,
        /// sonora writes into a separate buffer: the 10 ms frame's copy.
        out: Vec<f32>,
    },
}

impl Engine {
    fn new(backend: Backend, settings: VoiceSettings) -> Result<Engine, ProcessingError> {
        match backend {
            #[cfg(feature = "webrtc-apm")]
            Backend::WebrtcApm => {
                let mut apm = apm::Processor::new(&apm::InitializationConfig {
                    num_capture_channels: 1,
                    num_render_channels: 1,
                    ..apm::InitializationConfig::default()
                })
                .map_err(|e| ProcessingError(format!("{e:?}")))?;
                apm.set_config(settings.config());
                Ok(Engine::Webrtc(Box::new(apm)))
            }
            #[cfg(feature = "sonora")]
            Backend::Sonora => {
                let stream = sonora::StreamConfig::new(APM_RATE, 1);
                let apm = sonora::AudioProcessing::builder()
                    .config(settings.sonora_config())
                    .capture_config(stream)
                    .render_config(stream)
                    .build();
                Ok(Engine::Sonora {
                    apm: Box::new(apm),
                    out: vec![0.0; APM_FRAME],
                })
            }
        }
    }

    /// One 10 ms frame of what the speaker plays.
    fn render(&mut self, chunk: &mut [f32]) {
        match self {
            #[cfg(feature = "webrtc-apm")]
            Engine::Webrtc(apm) => {
                let _ = apm.process_render_frame(chunk);
            }
            #[cfg(feature = "sonora")]
            Engine::Sonora { apm, out } => {
                let _ = apm.process_render_f32(&[chunk], &mut [out.as_mut_slice()]);
            }
        }
    }

    /// One 10 ms frame of the microphone, processed in place.
    fn capture(&mut self, chunk: &mut [f32]) {
        match self {
            #[cfg(feature = "webrtc-apm")]
            Engine::Webrtc(apm) => {
                let _ = apm.process_capture_frame(chunk);
            }
            #[cfg(feature = "sonora")]
            Engine::Sonora { apm, out } => {
                if apm
                    .process_capture_f32(&[chunk], &mut [out.as_mut_slice()])
                    .is_ok()
                {
                    chunk.copy_from_slice(out);
                }
            }
        }
    }

    fn erle(&self) -> Option<f64> {
        match self {
            #[cfg(feature = "webrtc-apm")]
            Engine::Webrtc(apm) => apm.get_stats().echo_return_loss_enhancement,
            #[cfg(feature = "sonora")]
            Engine::Sonora { apm, .. } => apm.statistics().echo_return_loss_enhancement,
        }
    }
}

/// The processor could not be made.
#[derive(Debug, Error)]
#[error("voice processing: {0}")]
pub struct ProcessingError(String);

/// One direction's conversion to and from the library's frames.
struct Lane {
    to_apm: Resampler,
    pending: Vec<f32>,
}

impl Lane {
    fn new(rate: u32) -> Result<Lane, ProcessingError> {
        Ok(Lane {
            to_apm: Resampler::new(rate, APM_RATE).map_err(|e| ProcessingError(e.to_string()))?,
            pending: Vec::with_capacity(APM_FRAME * 4),
        })
    }

    /// Takes one bridge frame; the library's frames it completes are in `pending`.
    fn feed(&mut self, frame: &[i16], scratch: &mut Vec<i16>) {
        scratch.resize(bridge_frame(APM_RATE), 0);
        self.to_apm.process(frame, scratch);
        self.pending
            .extend(scratch.iter().map(|s| f32::from(*s) / 32768.0));
    }
}

/// The capture chain of one pair of devices.
pub struct VoiceProcessor {
    apm: Engine,
    rate: u32,
    render: Lane,
    capture: Lane,
    back: Resampler,
    scratch: Vec<i16>,
    processed: Vec<i16>,
}

impl std::fmt::Debug for VoiceProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VoiceProcessor({} Hz)", self.rate)
    }
}

impl VoiceProcessor {
    /// A processor for a bridge at `rate` running what `settings` ask for.
    pub fn new(settings: VoiceSettings, rate: u32) -> Result<VoiceProcessor, ProcessingError> {
        Self::with_backend(settings, rate, Backend::DEFAULT)
    }

    /// As [`VoiceProcessor::new`] on a chosen implementation.
    pub fn with_backend(
        settings: VoiceSettings,
        rate: u32,
        backend: Backend,
    ) -> Result<VoiceProcessor, ProcessingError> {
        Ok(VoiceProcessor {
            apm: Engine::new(backend, settings)?,
            rate,
            render: Lane::new(rate)?,
            capture: Lane::new(rate)?,
            back: Resampler::new(APM_RATE, rate).map_err(|e| ProcessingError(e.to_string()))?,
            scratch: Vec::with_capacity(bridge_frame(APM_RATE)),
            processed: Vec::with_capacity(bridge_frame(APM_RATE) * 2),
        })
    }

    /// What the speaker plays for one bridge frame (after mixing and the output gain): the
    /// echo canceller's reference.
    pub fn render(&mut self, frame: &[i16]) {
        self.render.feed(frame, &mut self.scratch);
        let mut chunks = self.render.pending.chunks_exact_mut(APM_FRAME);
        for chunk in &mut chunks {
            self.apm.render(chunk);
        }
        let done = self.render.pending.len() / APM_FRAME * APM_FRAME;
        self.render.pending.drain(..done);
    }

    /// One bridge frame of the microphone, processed in place.
    pub fn capture(&mut self, frame: &mut [i16]) {
        self.capture.feed(frame, &mut self.scratch);
        let whole = self.capture.pending.len() / APM_FRAME * APM_FRAME;
        for chunk in self.capture.pending[..whole].chunks_exact_mut(APM_FRAME) {
            self.apm.capture(chunk);
            self.processed.extend(
                chunk
                    .iter()
                    .map(|s| (s * 32768.0).clamp(-32768.0, 32767.0) as i16),
            );
        }
        self.capture.pending.drain(..whole);
        // Back at the bridge's rate: one frame's worth of what is processed.
        let n = bridge_frame(APM_RATE).min(self.processed.len());
        self.scratch.clear();
        self.scratch.extend(self.processed.drain(..n));
        self.scratch.resize(bridge_frame(APM_RATE), 0);
        self.back.process(&self.scratch, frame);
    }

    /// The echo canceller's measured echo return loss enhancement, dB (when it has one).
    pub fn echo_return_loss_enhancement(&self) -> Option<f64> {
        self.apm.erle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switches_map_onto_the_library_levels() {
        let s = VoiceSettings::from_params;
        assert_eq!(s(0, 2, 0, 0), VoiceSettings::default());
        assert!(!s(0, 0, 0, 0).any());
        assert_eq!(s(1, 0, 3, 3).echo, 2);
        assert_eq!(s(2, 1, 3, 3).echo, 3);
        assert_eq!(s(3, 0, 3, 3).echo, 3);
        assert_eq!(
            s(2, 0, 9, -1),
            VoiceSettings {
                echo: 2,
                noise: 3,
                gain: 0
            }
        );
    }

    #[test]
    fn frames_keep_their_size_at_every_bridge_rate() {
        for rate in [8000, 16_000, 48_000] {
            let mut p = VoiceProcessor::new(
                VoiceSettings {
                    echo: 2,
                    noise: 2,
                    gain: 2,
                },
                rate,
            )
            .unwrap();
            let mut frame = vec![100i16; bridge_frame(rate)];
            for _ in 0..10 {
                p.render(&frame);
                p.capture(&mut frame);
                assert_eq!(frame.len(), bridge_frame(rate));
            }
        }
    }
}
