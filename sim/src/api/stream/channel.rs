//! The Kubernetes WebSocket channel protocols (`v5.channel.k8s.io`, `v4.channel.k8s.io`,
//! `channel.k8s.io` and their base64 forms): subprotocol choice and the framing of one
//! message as a channel byte followed by its payload.

use base64::Engine;
use bytes::Bytes;

/// Channel of standard input.
pub const STDIN: u8 = 0;
/// Channel of standard output.
pub const STDOUT: u8 = 1;
/// Channel of standard error.
pub const STDERR: u8 = 2;
/// Channel of the final `Status` (v4+) or error text (earlier).
pub const ERROR: u8 = 3;
/// Channel of terminal resize events (JSON `{"Width","Height"}`).
pub const RESIZE: u8 = 4;
/// Channel on which v5 signals the close of another channel: `[255, channel]`.
pub const CLOSE: u8 = 255;

/// A negotiated channel protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    /// The subprotocol name as sent back to the client (empty when none was offered).
    pub name: &'static str,
    /// 1 (`channel.k8s.io`), 4 or 5.
    pub version: u8,
    /// Text frames with an ASCII channel digit and base64 payloads.
    pub base64: bool,
}

/// The channel protocols exec and attach accept.
pub const EXEC_PROTOCOLS: &[Protocol] = &[
    Protocol {
        name: "v5.channel.k8s.io",
        version: 5,
        base64: false,
    },
    Protocol {
        name: "v4.channel.k8s.io",
        version: 4,
        base64: false,
    },
    Protocol {
        name: "v4.base64.channel.k8s.io",
        version: 4,
        base64: true,
    },
    Protocol {
        name: "channel.k8s.io",
        version: 1,
        base64: false,
    },
    Protocol {
        name: "base64.channel.k8s.io",
        version: 1,
        base64: true,
    },
];

/// The channel protocols port-forward accepts (the kubelet's: no v5).
pub const PORT_FORWARD_PROTOCOLS: &[Protocol] = &[
    Protocol {
        name: "v4.channel.k8s.io",
        version: 4,
        base64: false,
    },
    Protocol {
        name: "v4.base64.channel.k8s.io",
        version: 4,
        base64: true,
    },
    Protocol {
        name: "channel.k8s.io",
        version: 1,
        base64: false,
    },
];

/// The protocol used when the client offers none (binary, version 1).
pub const UNNAMED: Protocol = Protocol {
    name: "",
    version: 1,
    base64: false,
};

/// Splits `Sec-WebSocket-Protocol` header values into the offered names, in order.
pub fn offered<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    values
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The first offered protocol that `supported` knows, in the client's order (as the API
/// server picks); `UNNAMED` when nothing was offered; `None` when nothing offered fits.
pub fn choose(offered: &[&str], supported: &[Protocol]) -> Option<Protocol> {
    if offered.is_empty() {
        return Some(UNNAMED);
    }
    offered
        .iter()
        .find_map(|o| supported.iter().find(|p| p.name == *o).copied())
}

/// One framed message: binary `[channel, payload...]` or text `"<digit><base64>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A binary message.
    Binary(Bytes),
    /// A text message (base64 protocols).
    Text(String),
}

impl Protocol {
    /// Frames `payload` for `channel`.
    pub fn encode(&self, channel: u8, payload: &[u8]) -> Frame {
        if self.base64 {
            let mut s = String::with_capacity(1 + payload.len().div_ceil(3) * 4);
            s.push(char::from(b'0'.wrapping_add(channel)));
            base64::engine::general_purpose::STANDARD.encode_string(payload, &mut s);
            Frame::Text(s)
        } else {
            let mut v = Vec::with_capacity(payload.len() + 1);
            v.push(channel);
            v.extend_from_slice(payload);
            Frame::Binary(Bytes::from(v))
        }
    }

    /// Decodes a binary message into (channel, payload); `None` for an empty message.
    pub fn decode_binary(&self, msg: &Bytes) -> Option<(u8, Bytes)> {
        let (&ch, _) = msg.split_first()?;
        Some((ch, msg.slice(1..)))
    }

    /// Decodes a text message of a base64 protocol.
    pub fn decode_text(&self, msg: &str) -> Option<(u8, Bytes)> {
        let mut chars = msg.chars();
        let digit = chars.next()?.to_digit(10)?;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(chars.as_str())
            .ok()?;
        Some((u8::try_from(digit).ok()?, Bytes::from(payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_order_decides() {
        let offered = offered(["v5.channel.k8s.io, v4.channel.k8s.io"].into_iter());
        assert_eq!(choose(&offered, EXEC_PROTOCOLS).unwrap().version, 5);
        assert_eq!(
            choose(&offered, PORT_FORWARD_PROTOCOLS).unwrap().name,
            "v4.channel.k8s.io"
        );
        assert_eq!(choose(&["bogus"], EXEC_PROTOCOLS), None);
        assert_eq!(choose(&[], EXEC_PROTOCOLS), Some(UNNAMED));
    }

    #[test]
    fn frames_round_trip() {
        for p in EXEC_PROTOCOLS {
            let f = p.encode(STDERR, b"hi\0there");
            let back = match f {
                Frame::Binary(b) => p.decode_binary(&b),
                Frame::Text(t) => p.decode_text(&t),
            };
            assert_eq!(back, Some((STDERR, Bytes::from_static(b"hi\0there"))));
        }
    }
}
