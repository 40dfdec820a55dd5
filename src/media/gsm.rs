//! GSM 06.10 full rate (RFC 3551 §4.5.8: static payload type 3, 8 kHz, 160 samples in one
//! 33-byte frame every 20 ms), the codec old PBX trunks and GSM gateways still ask for.
//!
//! The reference coder (Jutta Degener and Carsten Bormann's libgsm) comes compiled from
//! source by gsm-sys; the few lines here only make it safe to call: one owned state per
//! direction, fixed-size frames copied in and out, and a frame whose signature nibble is
//! wrong refused instead of decoded.

use std::ptr::NonNull;

/// Samples in one GSM frame (20 ms at 8 kHz).
pub const GSM_FRAME_SAMPLES: usize = 160;
/// Bytes in one encoded GSM frame.
pub const GSM_FRAME_BYTES: usize = 33;

/// One libgsm state: an encoder or a decoder (libgsm keeps both in one struct, we use one
/// per direction so that they never share history).
pub struct GsmCoder {
    state: NonNull<gsm_sys::GsmState>,
}

// SAFETY: the state is owned by this value alone and libgsm keeps no global state, so it may
// move to another thread; it is never shared (`&mut self` on every call).
unsafe impl Send for GsmCoder {}

impl std::fmt::Debug for GsmCoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GsmCoder")
    }
}

impl GsmCoder {
    /// A fresh coder; `None` only if libgsm could not allocate its state.
    pub fn new() -> Option<GsmCoder> {
        // SAFETY: gsm_create has no preconditions; it returns null only when out of memory.
        let state = NonNull::new(unsafe { gsm_sys::gsm_create() })?;
        Some(GsmCoder { state })
    }

    /// Encodes 160 samples (fewer are padded with silence) into one 33-byte frame.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8; GSM_FRAME_BYTES]) {
        let mut signal = [0i16; GSM_FRAME_SAMPLES];
        let n = pcm.len().min(GSM_FRAME_SAMPLES);
        signal[..n].copy_from_slice(&pcm[..n]);
        // SAFETY: the state is live, `signal` holds 160 samples and `out` 33 bytes, exactly
        // what gsm_encode reads and writes.
        unsafe { gsm_sys::gsm_encode(self.state.as_ptr(), signal.as_mut_ptr(), out.as_mut_ptr()) }
    }

    /// Decodes one frame into 160 samples; `false` (and silence) for a frame that is not GSM
    /// (its first nibble is not the 0xD signature).
    pub fn decode(&mut self, frame: &[u8], out: &mut [i16; GSM_FRAME_SAMPLES]) -> bool {
        let mut bytes = [0u8; GSM_FRAME_BYTES];
        if frame.len() < GSM_FRAME_BYTES || frame[0] >> 4 != 0xD {
            out.fill(0);
            return false;
        }
        bytes.copy_from_slice(&frame[..GSM_FRAME_BYTES]);
        // SAFETY: the state is live, `bytes` holds 33 bytes and `out` 160 samples, exactly
        // what gsm_decode reads and writes.
        let rc = unsafe {
            gsm_sys::gsm_decode(self.state.as_ptr(), bytes.as_mut_ptr(), out.as_mut_ptr())
        };
        if rc != 0 {
            out.fill(0);
        }
        rc == 0
    }
}

impl Drop for GsmCoder {
    fn drop(&mut self) {
        // SAFETY: the state came from gsm_create and is destroyed once, here.
        unsafe { gsm_sys::gsm_destroy(self.state.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_signature_and_junk_is_refused() {
        let mut enc = GsmCoder::new().unwrap();
        let mut dec = GsmCoder::new().unwrap();
        let mut frame = [0u8; GSM_FRAME_BYTES];
        let tone: Vec<i16> = (0..160)
            .map(|i| ((i as f32 * 0.2).sin() * 8000.0) as i16)
            .collect();
        enc.encode(&tone, &mut frame);
        assert_eq!(frame[0] >> 4, 0xD);
        let mut out = [0i16; GSM_FRAME_SAMPLES];
        assert!(dec.decode(&frame, &mut out));
        assert!(!dec.decode(&[0x11; GSM_FRAME_BYTES], &mut out));
        assert!(out.iter().all(|&s| s == 0));
        assert!(!dec.decode(&frame[..10], &mut out));
    }
}
