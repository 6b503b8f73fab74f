//! Standard base64 (RFC 4648 §4, `+/`, `=` padding), for raw output bytes
//! inside JSON.
//!
//! Output logs are arbitrary bytes (partial UTF-8, escape sequences), which
//! JSON strings cannot carry losslessly; base64 keeps them exact at a 4/3
//! size cost. Decoding is strict, so every byte string has exactly one
//! encoding and garbage is never silently accepted.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why a string is not canonical standard base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// The length is not a multiple of 4.
    #[error("base64 length {len} is not a multiple of 4")]
    Length {
        /// The input length.
        len: usize,
    },
    /// A byte outside the alphabet, or `=` where padding cannot be.
    #[error("invalid base64 byte 0x{byte:02x} at offset {at}")]
    Byte {
        /// Offset in the input.
        at: usize,
        /// The byte.
        byte: u8,
    },
    /// The bits after the last byte are not zero, so another string is the
    /// canonical encoding of the same bytes.
    #[error("non-canonical base64: padding bits are not zero")]
    NonCanonical,
}

/// `data` as standard padded base64. `decode(&encode(d)) == Ok(d)` for every `d`.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 0x3f) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

fn value(byte: u8) -> Option<u32> {
    let v = match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// The bytes `text` encodes. Accepts only what [`encode`] produces: no
/// whitespace, no missing padding, no non-zero padding bits.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let input = text.as_bytes();
    if !input.len().is_multiple_of(4) {
        return Err(Base64Error::Length { len: input.len() });
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let quads = input.len() / 4;
    for (q, quad) in input.chunks_exact(4).enumerate() {
        let last = q + 1 == quads;
        let pad = if last {
            quad.iter().rev().take_while(|&&b| b == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return Err(Base64Error::Byte {
                at: q * 4 + 1,
                byte: b'=',
            });
        }
        let mut n = 0u32;
        for (i, &byte) in quad.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                value(byte).ok_or(Base64Error::Byte {
                    at: q * 4 + i,
                    byte,
                })?
            };
            n = n << 6 | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = 3 - pad;
        if bytes[keep..].iter().any(|&b| b != 0) {
            return Err(Base64Error::NonCanonical);
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 4648 §10 test vectors, plus bytes that need `+` and `/`.
    const VECTORS: &[(&[u8], &str)] = &[
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (b"fooba", "Zm9vYmE="),
        (b"foobar", "Zm9vYmFy"),
        (&[0xfb, 0xff], "+/8="),
        (&[0x00, 0x00, 0x00], "AAAA"),
        (&[0xff, 0xff, 0xff], "////"),
        (b"\x1b[31mred\x1b[0m\n", "G1szMW1yZWQbWzBtCg=="),
    ];

    #[test]
    fn encodes_the_vectors() {
        for (bytes, text) in VECTORS {
            assert_eq!(encode(bytes), *text, "encode {bytes:?}");
        }
    }

    #[test]
    fn decodes_the_vectors() {
        for (bytes, text) in VECTORS {
            assert_eq!(decode(text).as_deref(), Ok(*bytes), "decode {text:?}");
        }
    }

    #[test]
    fn rejects_what_encode_never_produces() {
        let cases: &[(&str, Base64Error)] = &[
            ("Zg=", Base64Error::Length { len: 3 }),
            ("Zg", Base64Error::Length { len: 2 }),
            ("Zm9v\n", Base64Error::Length { len: 5 }),
            ("Zm 9", Base64Error::Byte { at: 2, byte: b' ' }),
            ("Zm9-", Base64Error::Byte { at: 3, byte: b'-' }),
            ("Z===", Base64Error::Byte { at: 1, byte: b'=' }),
            ("====", Base64Error::Byte { at: 1, byte: b'=' }),
            ("Zg==Zm9v", Base64Error::Byte { at: 2, byte: b'=' }),
            ("Z=g=", Base64Error::Byte { at: 1, byte: b'=' }),
            ("Zh==", Base64Error::NonCanonical),
            ("Zm9=", Base64Error::NonCanonical),
            ("é==", Base64Error::Byte { at: 0, byte: 0xc3 }),
        ];
        for (text, want) in cases {
            assert_eq!(decode(text).as_ref(), Err(want), "decode {text:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = encode(&data);
            prop_assert_eq!(text.len(), data.len().div_ceil(3) * 4);
            prop_assert_eq!(decode(&text), Ok(data));
        }

        #[test]
        fn decode_never_panics(text in ".{0,64}") {
            let _ = decode(&text);
        }
    }
}
