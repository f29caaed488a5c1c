//! Lower-case hexadecimal, as digests, fingerprints and keys are written.

/// `bytes` as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Lower- or upper-case hex to bytes; `None` unless every digit is hex
/// and they come in pairs.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    // from_str_radix alone would take a sign (`+1`).
    if text.len() % 2 != 0 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_bad_digits_are_refused() {
        assert_eq!(encode(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(decode("00ABff"), Some(vec![0, 0xab, 0xff]));
        for bad in ["0", "zz", "+1", "é0"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
