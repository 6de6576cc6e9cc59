//! SPDY/3 header blocks before compression: a count, then length-prefixed names and values
//! (all 32-bit big-endian lengths), and lookups in them.

use super::frame::FrameError;

/// Header name/value pairs (names lower case, as SPDY requires).
pub type Headers = Vec<(String, String)>;

/// The uncompressed SPDY/3 header block of `headers`.
pub fn header_block(headers: &Headers) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&u32::try_from(headers.len()).unwrap_or(0).to_be_bytes());
    for (k, val) in headers {
        for s in [k, val] {
            v.extend_from_slice(&u32::try_from(s.len()).unwrap_or(0).to_be_bytes());
            v.extend_from_slice(s.as_bytes());
        }
    }
    v
}

/// Parses an uncompressed header block; repeated values (NUL-separated) stay joined.
pub fn parse_header_block(raw: &[u8]) -> Result<Headers, FrameError> {
    let mut p = raw;
    let bad = || FrameError::HeaderBlock("truncated header block".into());
    let take_u32 = |p: &mut &[u8]| -> Result<usize, FrameError> {
        if p.len() < 4 {
            return Err(bad());
        }
        let n = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
        *p = &p[4..];
        Ok(n)
    };
    let count = take_u32(&mut p)?;
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let mut pair = [String::new(), String::new()];
        for s in &mut pair {
            let n = take_u32(&mut p)?;
            if p.len() < n {
                return Err(bad());
            }
            *s = String::from_utf8_lossy(&p[..n]).into_owned();
            p = &p[n..];
        }
        let [k, v] = pair;
        headers.push((k.to_ascii_lowercase(), v));
    }
    Ok(headers)
}

/// The value of header `name` (case-insensitive), if present.
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_truncation_is_an_error() {
        let h: Headers = vec![
            ("streamtype".into(), "data".into()),
            ("port".into(), "80".into()),
        ];
        let raw = header_block(&h);
        assert_eq!(parse_header_block(&raw).unwrap(), h);
        assert_eq!(header(&h, "Port"), Some("80"));
        assert!(parse_header_block(&raw[..raw.len() - 1]).is_err());
    }
}
