//! Speex (RFC 5574): narrowband 8 kHz, wideband 16 kHz and ultra-wideband 32 kHz, 20 ms frames,
//! several frames per RTP packet allowed; some PBX trunks and older softphones still offer it.
//!
//! libspeex itself comes compiled from source by speex-sys. The safe wrapper here is ours
//! rather than speex-safe's because that crate cannot decode a lost frame (libspeex's own
//! concealment needs a null bit-stream) and panics on return codes it does not expect; this
//! one never panics and gives libspeex only buffers of the sizes it asked for.

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

/// The three Speex modes, each its own RTP clock rate (`speex/8000`, `/16000`, `/32000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeexBand {
    Narrow,
    Wide,
    UltraWide,
}

impl SpeexBand {
    /// Samples per 20 ms frame.
    pub fn frame_samples(self) -> usize {
        match self {
            SpeexBand::Narrow => 160,
            SpeexBand::Wide => 320,
            SpeexBand::UltraWide => 640,
        }
    }

    fn mode(self) -> *const speex_sys::SpeexMode {
        // The mode tables are immutable statics inside libspeex; only their address is taken.
        match self {
            SpeexBand::Narrow => &raw const speex_sys::speex_nb_mode,
            SpeexBand::Wide => &raw const speex_sys::speex_wb_mode,
            SpeexBand::UltraWide => &raw const speex_sys::speex_uwb_mode,
        }
    }
}

/// Quality 8: 15 kbit/s narrowband, 27.8 kbit/s wideband; what baresip and Linphone pick.
const QUALITY: c_int = 8;
/// The most bytes one RTP payload can bring (libspeex's own bit-buffer size).
const MAX_PAYLOAD: usize = 2000;

/// A libspeex bit-stream, initialised and destroyed with its owner.
struct Bits(speex_sys::SpeexBits);

impl Bits {
    fn new() -> Bits {
        let mut bits = std::mem::MaybeUninit::<speex_sys::SpeexBits>::uninit();
        // SAFETY: speex_bits_init fills every field (allocating its own buffer).
        unsafe {
            speex_sys::speex_bits_init(bits.as_mut_ptr());
            Bits(bits.assume_init())
        }
    }
}

impl Drop for Bits {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once here.
        unsafe { speex_sys::speex_bits_destroy(&mut self.0) }
    }
}

/// A Speex encoder of one band.
pub struct SpeexEncoder {
    state: NonNull<c_void>,
    bits: Bits,
    band: SpeexBand,
    frame: Vec<i16>,
}

/// A Speex decoder of one band, with libspeex's own concealment of lost frames.
pub struct SpeexDecoder {
    state: NonNull<c_void>,
    bits: Bits,
    band: SpeexBand,
}

// SAFETY: each state and bit-stream is owned by one value alone (never shared; every call
// takes `&mut self`) and libspeex keeps no global mutable state, so they may move threads.
unsafe impl Send for SpeexEncoder {}
unsafe impl Send for SpeexDecoder {}

impl std::fmt::Debug for SpeexEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpeexEncoder({:?})", self.band)
    }
}
impl std::fmt::Debug for SpeexDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpeexDecoder({:?})", self.band)
    }
}

impl SpeexEncoder {
    /// An encoder at quality 8, complexity 3; `None` only if libspeex could not allocate.
    pub fn new(band: SpeexBand) -> Option<SpeexEncoder> {
        // SAFETY: the mode is one of libspeex's statics.
        let state = NonNull::new(unsafe { speex_sys::speex_encoder_init(band.mode()) })?;
        let enc = SpeexEncoder {
            state,
            bits: Bits::new(),
            band,
            frame: vec![0; band.frame_samples()],
        };
        for (request, value) in [
            (speex_sys::SPEEX_SET_QUALITY, QUALITY),
            (speex_sys::SPEEX_SET_COMPLEXITY, 3),
        ] {
            let mut v = value;
            // SAFETY: both requests read one c_int through the pointer.
            unsafe {
                speex_sys::speex_encoder_ctl(state.as_ptr(), request, (&raw mut v).cast());
            }
        }
        Some(enc)
    }

    /// Encodes `pcm` (whole 20 ms frames; a short tail is padded with silence) into one RTP
    /// payload of concatenated frames with the Speex terminator.
    pub fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        // SAFETY: the bit-stream was initialised by Bits::new.
        unsafe { speex_sys::speex_bits_reset(&mut self.bits.0) };
        for chunk in pcm.chunks(self.band.frame_samples()) {
            self.frame.fill(0);
            self.frame[..chunk.len()].copy_from_slice(chunk);
            // SAFETY: `frame` holds exactly the mode's frame size, which speex_encode_int
            // reads (and may overwrite); state and bits are live.
            unsafe {
                speex_sys::speex_encode_int(
                    self.state.as_ptr(),
                    self.frame.as_mut_ptr(),
                    &mut self.bits.0,
                );
            }
        }
        out.clear();
        out.resize(MAX_PAYLOAD, 0);
        // SAFETY: `out` has MAX_PAYLOAD writable bytes and that is the limit passed.
        let n = unsafe {
            speex_sys::speex_bits_write(
                &mut self.bits.0,
                out.as_mut_ptr().cast(),
                MAX_PAYLOAD as c_int,
            )
        };
        out.truncate(usize::try_from(n).unwrap_or(0));
    }
}

impl SpeexDecoder {
    /// A decoder with the perceptual enhancer on; `None` only if libspeex could not allocate.
    pub fn new(band: SpeexBand) -> Option<SpeexDecoder> {
        // SAFETY: the mode is one of libspeex's statics.
        let state = NonNull::new(unsafe { speex_sys::speex_decoder_init(band.mode()) })?;
        let mut on: c_int = 1;
        // SAFETY: SPEEX_SET_ENH reads one c_int.
        unsafe {
            speex_sys::speex_decoder_ctl(
                state.as_ptr(),
                speex_sys::SPEEX_SET_ENH,
                (&raw mut on).cast(),
            );
        }
        Some(SpeexDecoder {
            state,
            bits: Bits::new(),
            band,
        })
    }

    /// Decodes the frames of one payload and appends them to `out` until it holds `want`
    /// samples; `false` when the payload is corrupt (what was decoded before stays).
    pub fn decode(&mut self, payload: &[u8], want: usize, out: &mut Vec<i16>) -> bool {
        let bytes = &payload[..payload.len().min(MAX_PAYLOAD)];
        // SAFETY: `bytes` is readable for its length, which is what is passed; libspeex only
        // reads it, copying it into the bit-stream's own buffer (2000 bytes, not exceeded).
        unsafe {
            speex_sys::speex_bits_read_from(
                &mut self.bits.0,
                bytes.as_ptr().cast(),
                bytes.len() as c_int,
            );
        }
        let frame = self.band.frame_samples();
        while out.len() < want {
            // SAFETY: the bit-stream is live.
            if unsafe { speex_sys::speex_bits_remaining(&mut self.bits.0) } < 5 {
                break;
            }
            let start = out.len();
            out.resize(start + frame, 0);
            // SAFETY: `out[start..]` holds exactly one frame of the mode's size.
            let rc = unsafe {
                speex_sys::speex_decode_int(
                    self.state.as_ptr(),
                    &mut self.bits.0,
                    out[start..].as_mut_ptr(),
                )
            };
            match rc {
                0 => {}
                -1 => {
                    out.truncate(start);
                    break;
                }
                _ => {
                    out.truncate(start);
                    return false;
                }
            }
        }
        true
    }

    /// One frame of libspeex's concealment for a lost packet, appended to `out`.
    pub fn conceal(&mut self, out: &mut Vec<i16>) {
        let start = out.len();
        out.resize(start + self.band.frame_samples(), 0);
        // SAFETY: a null bit-stream asks libspeex for concealment; `out[start..]` holds one
        // frame.
        unsafe {
            speex_sys::speex_decode_int(
                self.state.as_ptr(),
                std::ptr::null_mut(),
                out[start..].as_mut_ptr(),
            );
        }
    }
}

impl Drop for SpeexEncoder {
    fn drop(&mut self) {
        // SAFETY: created by speex_encoder_init, destroyed once here.
        unsafe { speex_sys::speex_encoder_destroy(self.state.as_ptr()) }
    }
}
impl Drop for SpeexDecoder {
    fn drop(&mut self) {
        // SAFETY: created by speex_decoder_init, destroyed once here.
        unsafe { speex_sys::speex_decoder_destroy(self.state.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_frames_in_one_payload_and_junk_never_crash() {
        for band in [SpeexBand::Narrow, SpeexBand::Wide, SpeexBand::UltraWide] {
            let n = band.frame_samples();
            let mut enc = SpeexEncoder::new(band).unwrap();
            let mut dec = SpeexDecoder::new(band).unwrap();
            let pcm: Vec<i16> = (0..2 * n)
                .map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16)
                .collect();
            let mut payload = Vec::new();
            enc.encode(&pcm, &mut payload);
            assert!(!payload.is_empty() && payload.len() < 400, "{band:?}");
            let mut out = Vec::new();
            assert!(dec.decode(&payload, 2 * n, &mut out));
            assert_eq!(out.len(), 2 * n, "{band:?}: both frames decoded");
            dec.conceal(&mut out);
            assert_eq!(out.len(), 3 * n);
            // Junk of every length: an error or silence, never a crash or an overrun.
            for len in [0, 1, 7, 38, 300, 5000] {
                let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
                let mut out = Vec::new();
                let _ = dec.decode(&junk, n, &mut out);
                assert!(out.len() <= n);
            }
        }
    }

    #[test]
    fn random_payloads_at_every_decoder_never_overrun() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for band in [SpeexBand::Narrow, SpeexBand::Wide, SpeexBand::UltraWide] {
            let mut dec = SpeexDecoder::new(band).unwrap();
            let n = band.frame_samples();
            for _ in 0..3000 {
                let len = rng.random_range(0..200);
                let junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                let mut out = Vec::new();
                let _ = dec.decode(&junk, 3 * n, &mut out);
                assert!(out.len() <= 3 * n && out.len() % n == 0);
                if rng.random_bool(0.1) {
                    dec.conceal(&mut out);
                }
            }
        }
    }
}
