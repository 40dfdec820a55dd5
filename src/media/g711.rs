//! G.711 μ-law (PCMU) and A-law (PCMA), the segment/quantisation algorithm of ITU-T G.711.

const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 8159;

fn segment(v: i32, ends: &[i32; 8]) -> usize {
    ends.iter().position(|&e| v <= e).unwrap_or(8)
}

/// One 16-bit linear sample to μ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let mut v = i32::from(sample) >> 2;
    let mask = if v < 0 {
        v = -v;
        0x7F
    } else {
        0xFF
    };
    v = v.min(ULAW_CLIP) + (ULAW_BIAS >> 2);
    let seg = segment(v, &SEG_UEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let uval = ((seg as i32) << 4) | ((v >> (seg + 1)) & 0x0F);
    (uval ^ mask) as u8
}

/// One μ-law byte to a 16-bit linear sample.
pub fn ulaw_to_linear(u: u8) -> i16 {
    let u = !u;
    let mut t = ((i32::from(u) & 0x0F) << 3) + ULAW_BIAS;
    t <<= (i32::from(u) & 0x70) >> 4;
    (if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

/// One 16-bit linear sample to A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let mut v = i32::from(sample) >> 3;
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    let seg = segment(v, &SEG_AEND);
    if seg >= 8 {
        return (0x7F ^ mask) as u8;
    }
    let mut aval = (seg as i32) << 4;
    aval |= if seg < 2 {
        (v >> 1) & 0x0F
    } else {
        (v >> seg) & 0x0F
    };
    (aval ^ mask) as u8
}

/// One A-law byte to a 16-bit linear sample.
pub fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let mut t = (i32::from(a) & 0x0F) << 4;
    let seg = (i32::from(a) & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }

    #[test]
    fn round_trip_error_is_within_the_segment_step() {
        for x in (-32768i32..=32767).step_by(7) {
            let x = x as i16;
            for (enc, dec) in [
                (
                    linear_to_ulaw as fn(i16) -> u8,
                    ulaw_to_linear as fn(u8) -> i16,
                ),
                (linear_to_alaw, alaw_to_linear),
            ] {
                let y = dec(enc(x));
                let err = (i32::from(x) - i32::from(y)).abs();
                // Logarithmic quantisation: the step is at most 1/16 of the magnitude (+ a floor).
                assert!(err <= i32::from(x).abs() / 15 + 40, "{x} -> {y}");
                // Encoding a decoded value is stable.
                assert_eq!(enc(dec(enc(x))), enc(x));
            }
        }
    }
}

#[cfg(test)]
mod reference_vectors {
    use super::*;

    /// Values from Python's audioop (the classic Sun/CCITT implementation).
    #[test]
    fn matches_the_reference_implementation() {
        let input: [i16; 13] = [
            0, 1, -1, 100, -100, 1000, -1000, 5000, -5000, 20000, -20000, 32767, -32768,
        ];
        let alaw: [u8; 13] = [213, 213, 85, 211, 83, 250, 122, 134, 6, 166, 38, 170, 42];
        let ulaw: [u8; 13] = [255, 255, 126, 242, 114, 206, 78, 171, 43, 140, 12, 128, 0];
        for i in 0..input.len() {
            assert_eq!(linear_to_alaw(input[i]), alaw[i], "alaw {}", input[i]);
            assert_eq!(linear_to_ulaw(input[i]), ulaw[i], "ulaw {}", input[i]);
        }
        let codes = [0xD5u8, 0x55, 0x2A, 0xAA, 0x80, 0x00, 0x10, 0x90];
        let lin = [8i16, -8, -32256, 32256, 5504, -5504, -2752, 2752];
        for (c, l) in codes.iter().zip(lin) {
            assert_eq!(alaw_to_linear(*c), l, "alaw2lin {c:#x}");
        }
    }
}
