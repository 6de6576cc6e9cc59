//! SPDY/3.1 framing as Kubernetes streams use it (moby/spdystream): control frames
//! (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE), data
//! frames, and header blocks compressed by one zlib stream per direction that starts from
//! the SPDY/3 dictionary.
//!
//! No maintained Rust crate implements SPDY any more, so this module is small and tested on
//! its own. Incoming header blocks are inflated by a raw inflater primed with the dictionary
//! (a stored deflate block holding it, whose output is discarded), which is exactly what a
//! zlib preset dictionary means; outgoing blocks are compressed without a dictionary, which
//! zlib readers (Go's `zlib.NewReaderDict` included) accept.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::dictionary::header_dictionary;

/// The protocol version in control frames.
pub const VERSION: u16 = 3;
/// Flag FIN: the sender will send nothing more on the stream.
pub const FLAG_FIN: u8 = 0x01;
/// Largest payload the 24-bit length allows.
pub const MAX_PAYLOAD: usize = 0x00ff_ffff;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

pub use super::headers::{Headers, header, header_block, parse_header_block};

/// One SPDY frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens a stream.
    SynStream {
        /// Stream id (odd from clients).
        stream_id: u32,
        /// Associated stream (0 for none).
        associated: u32,
        /// Priority 0 (highest) to 7.
        priority: u8,
        /// FIN and UNIDIRECTIONAL flags.
        flags: u8,
        /// The request headers.
        headers: Headers,
    },
    /// Accepts a stream.
    SynReply {
        /// Stream id.
        stream_id: u32,
        /// FIN flag.
        flags: u8,
        /// The reply headers.
        headers: Headers,
    },
    /// Aborts a stream.
    RstStream {
        /// Stream id.
        stream_id: u32,
        /// Status code (1 PROTOCOL_ERROR, 3 REFUSED_STREAM, 5 CANCEL ...).
        status: u32,
    },
    /// Connection settings (flags, id, value).
    Settings {
        /// The entries.
        entries: Vec<(u8, u32, u32)>,
    },
    /// A ping to be echoed.
    Ping {
        /// Ping id.
        id: u32,
    },
    /// The connection is going away.
    GoAway {
        /// Last stream id processed.
        last_good: u32,
        /// Status code.
        status: u32,
    },
    /// More headers for a stream.
    Headers {
        /// Stream id.
        stream_id: u32,
        /// FIN flag.
        flags: u8,
        /// The headers.
        headers: Headers,
    },
    /// Flow control credit.
    WindowUpdate {
        /// Stream id.
        stream_id: u32,
        /// Bytes of credit.
        delta: u32,
    },
    /// Stream data.
    Data {
        /// Stream id.
        stream_id: u32,
        /// FIN flag.
        flags: u8,
        /// The bytes.
        data: Bytes,
    },
}

/// A malformed frame or header block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A control frame of another SPDY version.
    #[error("unsupported SPDY version {0}")]
    Version(u16),
    /// A frame shorter than its type needs.
    #[error("SPDY {0} frame too short")]
    Short(&'static str),
    /// The header block could not be inflated or parsed.
    #[error("invalid SPDY header block: {0}")]
    HeaderBlock(String),
}

/// Frame encoder and decoder of one connection (each keeps its zlib stream).
pub struct Codec {
    inflate: Decompress,
    inflate_started: bool,
    deflate: Compress,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec").finish_non_exhaustive()
    }
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

/// A deflate stored block holding `data` (not final), used to prime an inflater's window.
fn stored_block(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
    let mut v = vec![0u8];
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&(!len).to_le_bytes());
    v.extend_from_slice(&data[..usize::from(len)]);
    v
}

impl Codec {
    /// A codec at the start of a connection.
    pub fn new() -> Self {
        let mut inflate = Decompress::new(false);
        let prime = stored_block(header_dictionary());
        let mut sink = Vec::with_capacity(header_dictionary().len() + 16);
        // Priming cannot fail: the block is well formed and the sink large enough.
        let _ = inflate.decompress_vec(&prime, &mut sink, FlushDecompress::Sync);
        Self {
            inflate,
            inflate_started: false,
            deflate: Compress::new(Compression::default(), true),
        }
    }

    fn inflate_block(&mut self, mut input: &[u8]) -> Result<Vec<u8>, FrameError> {
        if !self.inflate_started {
            if input.len() < 2 {
                return Err(FrameError::HeaderBlock("missing zlib header".into()));
            }
            let (cmf, flg) = (input[0], input[1]);
            if cmf & 0x0f != 8 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
                return Err(FrameError::HeaderBlock("bad zlib header".into()));
            }
            input = &input[2..];
            if flg & 0x20 != 0 {
                if input.len() < 4 {
                    return Err(FrameError::HeaderBlock("missing dictionary id".into()));
                }
                input = &input[4..];
            }
            self.inflate_started = true;
        }
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        loop {
            let before_in = self.inflate.total_in();
            let before_out = self.inflate.total_out();
            let status = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|e| FrameError::HeaderBlock(e.to_string()))?;
            let used = usize::try_from(self.inflate.total_in() - before_in).unwrap_or(input.len());
            input = &input[used.min(input.len())..];
            let produced = self.inflate.total_out() - before_out;
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(256));
                continue;
            }
            if input.is_empty() || status == Status::StreamEnd || (used == 0 && produced == 0) {
                break;
            }
        }
        Ok(out)
    }

    fn deflate_block(&mut self, raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input = raw;
        loop {
            let before = self.deflate.total_in();
            // Compression into a Vec with spare room does not fail.
            let _ = self
                .deflate
                .compress_vec(input, &mut out, FlushCompress::Sync);
            let used = usize::try_from(self.deflate.total_in() - before).unwrap_or(input.len());
            input = &input[used.min(input.len())..];
            if out.len() < out.capacity() && input.is_empty() {
                break;
            }
            out.reserve(out.capacity().max(256));
        }
        out
    }

    fn read_headers(&mut self, block: &[u8]) -> Result<Headers, FrameError> {
        let raw = self.inflate_block(block)?;
        parse_header_block(&raw)
    }

    /// Decodes the next complete frame from `buf`, leaving partial frames in place.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            match self.decode_one(buf)? {
                None => return Ok(None),
                Some(Some(frame)) => return Ok(Some(frame)),
                // Unknown control frames are ignored, as SPDY requires.
                Some(None) => {}
            }
        }
    }

    /// One frame: `None` when more bytes are needed, `Some(None)` for a skipped frame.
    fn decode_one(&mut self, buf: &mut BytesMut) -> Result<Option<Option<Frame>>, FrameError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let len = usize::from(buf[5]) << 16 | usize::from(buf[6]) << 8 | usize::from(buf[7]);
        if buf.len() < 8 + len {
            return Ok(None);
        }
        let head = buf.split_to(8);
        let mut p = buf.split_to(len).freeze();
        let flags = head[4];
        if head[0] & 0x80 == 0 {
            let stream_id = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0x7fff_ffff;
            return Ok(Some(Some(Frame::Data {
                stream_id,
                flags,
                data: p,
            })));
        }
        let version = u16::from_be_bytes([head[0], head[1]]) & 0x7fff;
        if version != VERSION {
            return Err(FrameError::Version(version));
        }
        let kind = u16::from_be_bytes([head[2], head[3]]);
        let need = |p: &Bytes, n: usize, name: &'static str| {
            if p.len() < n {
                Err(FrameError::Short(name))
            } else {
                Ok(())
            }
        };
        let frame = match kind {
            SYN_STREAM => {
                need(&p, 10, "SYN_STREAM")?;
                let stream_id = p.get_u32() & 0x7fff_ffff;
                let associated = p.get_u32() & 0x7fff_ffff;
                let priority = p.get_u8() >> 5;
                let _slot = p.get_u8();
                let headers = self.read_headers(&p)?;
                Frame::SynStream {
                    stream_id,
                    associated,
                    priority,
                    flags,
                    headers,
                }
            }
            SYN_REPLY => {
                need(&p, 4, "SYN_REPLY")?;
                let stream_id = p.get_u32() & 0x7fff_ffff;
                Frame::SynReply {
                    stream_id,
                    flags,
                    headers: self.read_headers(&p)?,
                }
            }
            HEADERS => {
                need(&p, 4, "HEADERS")?;
                let stream_id = p.get_u32() & 0x7fff_ffff;
                Frame::Headers {
                    stream_id,
                    flags,
                    headers: self.read_headers(&p)?,
                }
            }
            RST_STREAM => {
                need(&p, 8, "RST_STREAM")?;
                Frame::RstStream {
                    stream_id: p.get_u32() & 0x7fff_ffff,
                    status: p.get_u32(),
                }
            }
            SETTINGS => {
                need(&p, 4, "SETTINGS")?;
                let n = p.get_u32() as usize;
                need(&p, n.saturating_mul(8), "SETTINGS")?;
                let entries = (0..n)
                    .map(|_| {
                        let idf = p.get_u32();
                        let value = p.get_u32();
                        ((idf >> 24) as u8, idf & 0x00ff_ffff, value)
                    })
                    .collect();
                Frame::Settings { entries }
            }
            PING => {
                need(&p, 4, "PING")?;
                Frame::Ping { id: p.get_u32() }
            }
            GOAWAY => {
                need(&p, 4, "GOAWAY")?;
                let last_good = p.get_u32() & 0x7fff_ffff;
                let status = if p.len() >= 4 { p.get_u32() } else { 0 };
                Frame::GoAway { last_good, status }
            }
            WINDOW_UPDATE => {
                need(&p, 8, "WINDOW_UPDATE")?;
                Frame::WindowUpdate {
                    stream_id: p.get_u32() & 0x7fff_ffff,
                    delta: p.get_u32() & 0x7fff_ffff,
                }
            }
            _ => return Ok(Some(None)),
        };
        Ok(Some(Some(frame)))
    }

    /// Appends the encoding of `frame` to `out`.
    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) {
        let control = |out: &mut BytesMut, kind: u16, flags: u8, payload: &[u8]| {
            out.put_u16(0x8000 | VERSION);
            out.put_u16(kind);
            out.put_u8(flags);
            put_len(out, payload.len());
            out.put_slice(payload);
        };
        match frame {
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u8(*flags);
                put_len(out, data.len());
                out.put_slice(data);
            }
            Frame::SynStream {
                stream_id,
                associated,
                priority,
                flags,
                headers,
            } => {
                let mut p = BytesMut::new();
                p.put_u32(*stream_id);
                p.put_u32(*associated);
                p.put_u8(priority << 5);
                p.put_u8(0);
                p.put_slice(&self.deflate_block(&header_block(headers)));
                control(out, SYN_STREAM, *flags, &p);
            }
            Frame::SynReply {
                stream_id,
                flags,
                headers,
            } => {
                let mut p = BytesMut::new();
                p.put_u32(*stream_id);
                p.put_slice(&self.deflate_block(&header_block(headers)));
                control(out, SYN_REPLY, *flags, &p);
            }
            Frame::Headers {
                stream_id,
                flags,
                headers,
            } => {
                let mut p = BytesMut::new();
                p.put_u32(*stream_id);
                p.put_slice(&self.deflate_block(&header_block(headers)));
                control(out, HEADERS, *flags, &p);
            }
            Frame::RstStream { stream_id, status } => {
                let mut p = BytesMut::new();
                p.put_u32(*stream_id);
                p.put_u32(*status);
                control(out, RST_STREAM, 0, &p);
            }
            Frame::Settings { entries } => {
                let mut p = BytesMut::new();
                p.put_u32(u32::try_from(entries.len()).unwrap_or(0));
                for (flags, id, value) in entries {
                    p.put_u32(u32::from(*flags) << 24 | (id & 0x00ff_ffff));
                    p.put_u32(*value);
                }
                control(out, SETTINGS, 0, &p);
            }
            Frame::Ping { id } => control(out, PING, 0, &id.to_be_bytes()),
            Frame::GoAway { last_good, status } => {
                let mut p = BytesMut::new();
                p.put_u32(*last_good);
                p.put_u32(*status);
                control(out, GOAWAY, 0, &p);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                let mut p = BytesMut::new();
                p.put_u32(*stream_id);
                p.put_u32(*delta);
                control(out, WINDOW_UPDATE, 0, &p);
            }
        }
    }
}

fn put_len(out: &mut BytesMut, len: usize) {
    let len = len.min(MAX_PAYLOAD);
    out.put_u8((len >> 16) as u8);
    out.put_u8((len >> 8) as u8);
    out.put_u8(len as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(frames: &[Frame]) -> Vec<Frame> {
        let (mut tx, mut rx) = (Codec::new(), Codec::new());
        let mut buf = BytesMut::new();
        for f in frames {
            tx.encode(f, &mut buf);
        }
        let mut out = Vec::new();
        while let Some(f) = rx.decode(&mut buf).expect("decodes") {
            out.push(f);
        }
        assert!(buf.is_empty());
        out
    }

    #[test]
    fn every_frame_type_round_trips() {
        let h = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect::<Headers>()
        };
        let frames = vec![
            Frame::SynStream {
                stream_id: 1,
                associated: 0,
                priority: 0,
                flags: 0,
                headers: h(&[("streamtype", "error")]),
            },
            Frame::SynStream {
                stream_id: 3,
                associated: 0,
                priority: 2,
                flags: FLAG_FIN,
                headers: h(&[("streamtype", "data"), ("port", "8080"), ("requestid", "0")]),
            },
            Frame::SynReply {
                stream_id: 1,
                flags: 0,
                headers: vec![],
            },
            Frame::Data {
                stream_id: 3,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"hello"),
            },
            Frame::RstStream {
                stream_id: 5,
                status: 5,
            },
            Frame::Settings {
                entries: vec![(0, 7, 65536)],
            },
            Frame::Ping { id: 2 },
            Frame::GoAway {
                last_good: 3,
                status: 0,
            },
            Frame::Headers {
                stream_id: 3,
                flags: 0,
                headers: h(&[("x", "y")]),
            },
            Frame::WindowUpdate {
                stream_id: 3,
                delta: 100,
            },
        ];
        assert_eq!(roundtrip(&frames), frames);
    }

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let mut tx = Codec::new();
        let mut buf = BytesMut::new();
        tx.encode(
            &Frame::Data {
                stream_id: 1,
                flags: 0,
                data: Bytes::from_static(b"abcdef"),
            },
            &mut buf,
        );
        let full = buf.clone();
        let mut rx = Codec::new();
        let mut part = BytesMut::from(&full[..10]);
        assert_eq!(rx.decode(&mut part).unwrap(), None);
        part.extend_from_slice(&full[10..]);
        assert!(matches!(
            rx.decode(&mut part).unwrap(),
            Some(Frame::Data { .. })
        ));
    }

    /// A header block as Go's spdy framer sends it: a zlib stream with the FDICT flag, the
    /// dictionary's Adler-32, and deflate data that may refer back into the dictionary.
    /// The data is produced by a raw deflater that first compressed the dictionary itself,
    /// so its window holds the dictionary exactly as a preset dictionary would.
    #[test]
    fn dictionary_header_blocks_inflate() {
        let block = header_block(&vec![("streamtype".into(), "stdout".into())]);
        let mut raw = Compress::new(Compression::default(), false);
        let mut primed = Vec::with_capacity(4096);
        let _ = raw.compress_vec(header_dictionary(), &mut primed, FlushCompress::Sync);
        let mut body = Vec::with_capacity(4096);
        let _ = raw.compress_vec(&block, &mut body, FlushCompress::Sync);
        let mut stream = vec![0x78, 0xbb];
        stream.extend_from_slice(&adler32(header_dictionary()).to_be_bytes());
        stream.extend_from_slice(&body);
        let mut codec = Codec::new();
        let raw = codec.inflate_block(&stream).expect("inflates");
        assert_eq!(raw, block);
        assert_eq!(
            parse_header_block(&raw).unwrap(),
            vec![("streamtype".to_string(), "stdout".to_string())]
        );
    }

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in data {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        b << 16 | a
    }

    proptest::proptest! {
        #[test]
        fn random_frames_round_trip(
            frames in proptest::collection::vec(
                (0u8..4, 1u32..1000, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                 proptest::collection::vec(("[a-z]{1,12}", "[ -~]{0,40}"), 0..5)),
                1..20,
            )
        ) {
            let frames: Vec<Frame> = frames
                .into_iter()
                .map(|(kind, id, data, headers)| match kind {
                    0 => Frame::Data { stream_id: id, flags: 0, data: Bytes::from(data) },
                    1 => Frame::SynStream { stream_id: id, associated: 0, priority: 0, flags: 0, headers },
                    2 => Frame::SynReply { stream_id: id, flags: FLAG_FIN, headers },
                    _ => Frame::Ping { id },
                })
                .collect();
            proptest::prop_assert_eq!(roundtrip(&frames), frames);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let mut codec = Codec::new();
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) = codec.decode(&mut buf) {}
        }
    }
}
