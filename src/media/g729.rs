//! G.729 (Annex A compatible, RFC 3551 §4.5.6: static payload type 18, 8 kHz, 80 samples in
//! one 10-byte frame every 10 ms), which some PBX trunks still demand for its 8 kbit/s. Only
//! in a build with the opt-in `g729` cargo feature.
//!
//! **Licence.** The coder is Belledonne Communications' bcg729, linked from the system
//! (Debian's libbcg729-dev), and bcg729 is GPL-3.0-or-later: a binary built with this feature
//! is a combined work that may only be distributed under the GPL-3.0, whatever this
//! project's own MIT OR Apache-2.0 licence allows for the default build. (G.729's patents
//! have expired; the licence is bcg729's copyright, not a patent pool.) That is why the
//! feature is off by default.
//!
//! bcg729 has no Rust binding worth depending on (g729-sys bundles another copy of the C
//! source, a pure-Rust port of the GPL code is offered under MIT), so its five entry points
//! are declared here and wrapped as GSM's are: one owned state per direction, fixed-size
//! frames in and out. We send no Annex B silence frames (we offer `annexb=no`) but decode a
//! peer's 2-byte SID frames.

use std::ptr::NonNull;

/// Samples in one G.729 frame (10 ms at 8 kHz).
pub const G729_FRAME_SAMPLES: usize = 80;
/// Bytes in one encoded G.729 frame.
pub const G729_FRAME_BYTES: usize = 10;
/// Bytes in an Annex B silence insertion descriptor.
const SID_BYTES: usize = 2;

#[repr(C)]
struct EncoderContext {
    _private: [u8; 0],
}

#[repr(C)]
struct DecoderContext {
    _private: [u8; 0],
}

#[link(name = "bcg729")]
unsafe extern "C" {
    fn initBcg729EncoderChannel(enable_vad: u8) -> *mut EncoderContext;
    fn closeBcg729EncoderChannel(ctx: *mut EncoderContext);
    fn bcg729Encoder(ctx: *mut EncoderContext, input: *const i16, out: *mut u8, len: *mut u8);
    fn initBcg729DecoderChannel() -> *mut DecoderContext;
    fn closeBcg729DecoderChannel(ctx: *mut DecoderContext);
    fn bcg729Decoder(
        ctx: *mut DecoderContext,
        bits: *const u8,
        len: u8,
        erasure: u8,
        sid: u8,
        rfc3389: u8,
        out: *mut i16,
    );
}

/// A bcg729 encoder (no voice activity detection: every frame is speech).
pub struct G729Encoder {
    ctx: NonNull<EncoderContext>,
}

/// A bcg729 decoder, which also conceals lost frames from its own state.
pub struct G729Decoder {
    ctx: NonNull<DecoderContext>,
}

// SAFETY: each context is owned by its value alone and bcg729 keeps no global state, so it may
// move to another thread; it is never shared (`&mut self` on every call).
unsafe impl Send for G729Encoder {}
// SAFETY: as for the encoder.
unsafe impl Send for G729Decoder {}

impl std::fmt::Debug for G729Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("G729Encoder")
    }
}

impl std::fmt::Debug for G729Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("G729Decoder")
    }
}

impl G729Encoder {
    /// A fresh encoder; `None` only if bcg729 could not allocate its state.
    pub fn new() -> Option<G729Encoder> {
        // SAFETY: no preconditions; null only when out of memory.
        let ctx = NonNull::new(unsafe { initBcg729EncoderChannel(0) })?;
        Some(G729Encoder { ctx })
    }

    /// Encodes `pcm` (whole 10 ms frames; a short last one is padded with silence) into
    /// `out`, frame after frame as RFC 3551 packs them.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        for chunk in pcm.chunks(G729_FRAME_SAMPLES) {
            let mut frame = [0i16; G729_FRAME_SAMPLES];
            frame[..chunk.len()].copy_from_slice(chunk);
            let mut bits = [0u8; G729_FRAME_BYTES];
            let mut len = 0u8;
            // SAFETY: the context is live; `frame` holds 80 samples and `bits` 10 bytes, the
            // most bcg729Encoder reads and writes.
            unsafe {
                bcg729Encoder(
                    self.ctx.as_ptr(),
                    frame.as_ptr(),
                    bits.as_mut_ptr(),
                    &mut len,
                )
            };
            out.extend_from_slice(&bits[..usize::from(len).min(G729_FRAME_BYTES)]);
        }
    }
}

impl G729Decoder {
    /// A fresh decoder; `None` only if bcg729 could not allocate its state.
    pub fn new() -> Option<G729Decoder> {
        // SAFETY: no preconditions; null only when out of memory.
        let ctx = NonNull::new(unsafe { initBcg729DecoderChannel() })?;
        Some(G729Decoder { ctx })
    }

    /// Decodes a payload (10-byte frames, perhaps ending in a 2-byte SID) onto the end of
    /// `out` until `out` holds `limit` samples; `false` for a payload of another size
    /// (nothing is decoded then).
    pub fn decode(&mut self, payload: &[u8], limit: usize, out: &mut Vec<i16>) -> bool {
        let sid = payload.len() % G729_FRAME_BYTES;
        if sid != 0 && sid != SID_BYTES {
            return false;
        }
        let (frames, tail) = payload.split_at(payload.len() - sid);
        for frame in frames.chunks_exact(G729_FRAME_BYTES) {
            if out.len() >= limit {
                break;
            }
            self.frame(frame, false, false, out);
        }
        if !tail.is_empty() && out.len() < limit {
            self.frame(tail, false, true, out);
        }
        true
    }

    /// One frame of concealment for a lost one (bcg729 extrapolates from its state).
    pub fn conceal(&mut self, out: &mut Vec<i16>) {
        self.frame(&[0u8; G729_FRAME_BYTES], true, false, out);
    }

    fn frame(&mut self, bits: &[u8], erasure: bool, sid: bool, out: &mut Vec<i16>) {
        let mut pcm = [0i16; G729_FRAME_SAMPLES];
        let len = bits.len().min(G729_FRAME_BYTES) as u8;
        // SAFETY: the context is live; `bits` holds `len` bytes (10, or 2 for a SID) and
        // `pcm` 80 samples, what bcg729Decoder reads and writes.
        unsafe {
            bcg729Decoder(
                self.ctx.as_ptr(),
                bits.as_ptr(),
                len,
                u8::from(erasure),
                u8::from(sid),
                0,
                pcm.as_mut_ptr(),
            )
        };
        out.extend_from_slice(&pcm);
    }
}

impl Drop for G729Encoder {
    fn drop(&mut self) {
        // SAFETY: the context came from initBcg729EncoderChannel and is closed once, here.
        unsafe { closeBcg729EncoderChannel(self.ctx.as_ptr()) }
    }
}

impl Drop for G729Decoder {
    fn drop(&mut self) {
        // SAFETY: the context came from initBcg729DecoderChannel and is closed once, here.
        unsafe { closeBcg729DecoderChannel(self.ctx.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vowel-like signal: a 150 Hz pulse train through two formant-ish resonances.
    fn voice(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f32 / 8000.0;
                let f0 = (t * 150.0 * std::f32::consts::TAU).sin();
                let f1 = (t * 700.0 * std::f32::consts::TAU).sin() * 0.6;
                let f2 = (t * 1200.0 * std::f32::consts::TAU).sin() * 0.3;
                ((f0 + f1 + f2) * 6000.0) as i16
            })
            .collect()
    }

    fn correlation(a: &[i16], b: &[i16]) -> f64 {
        let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
        for (&x, &y) in a.iter().zip(b) {
            let (x, y) = (f64::from(x), f64::from(y));
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        ab / (aa * bb).sqrt().max(1.0)
    }

    #[test]
    fn speech_survives_a_round_trip_and_bad_payloads_are_refused() {
        let mut enc = G729Encoder::new().unwrap();
        let mut dec = G729Decoder::new().unwrap();
        let input = voice(8000);
        let mut output = Vec::new();
        for packet in input.chunks(160) {
            let mut bits = Vec::new();
            enc.encode(packet, &mut bits);
            assert_eq!(bits.len(), 20, "two frames per 20 ms packet");
            let mut pcm = Vec::new();
            assert!(dec.decode(&bits, 160, &mut pcm));
            assert_eq!(pcm.len(), 160);
            output.extend_from_slice(&pcm);
        }
        assert_eq!(output.len(), input.len());
        // The codec's delay is a few ms: the best lag within 20 ms.
        let best = (0..160)
            .map(|lag| correlation(&input[..input.len() - lag], &output[lag..]))
            .fold(f64::MIN, f64::max);
        assert!(best > 0.8, "decoded speech correlates {best:.3}");
        // The negative control: unrelated audio does not.
        let noise: Vec<i16> = (0..8000u32)
            .map(|i| ((i * 7919) % 2000) as i16 - 1000)
            .collect();
        assert!(correlation(&input, &noise).abs() < 0.2);
        // A SID frame decodes to comfort noise; a payload of another size is refused.
        let mut cn = Vec::new();
        assert!(dec.decode(&[0x40, 0x12], 80, &mut cn));
        assert_eq!(cn.len(), 80);
        assert!(!dec.decode(&[1, 2, 3], 80, &mut Vec::new()));
        let mut concealed = Vec::new();
        dec.conceal(&mut concealed);
        assert_eq!(concealed.len(), 80);
    }
}
