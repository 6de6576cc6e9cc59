//! One SPDY/3.1 server connection: a reader task that accepts the client's streams (each
//! answered with an empty SYN_REPLY, as the kubelet's spdystream server does), routes their
//! data, answers pings, and a writer task that serialises frames.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::frame::{Codec, FLAG_FIN, Frame, Headers};

/// Largest data frame sent.
const CHUNK: usize = 32 * 1024;

/// A stream the client opened.
#[derive(Debug)]
pub struct Incoming {
    /// Stream id.
    pub id: u32,
    /// Its SYN_STREAM headers.
    pub headers: Headers,
    /// Its data; closes at the client's FIN (or reset, or the connection's end).
    pub data: mpsc::UnboundedReceiver<Bytes>,
}

/// Sends frames on the connection (cheap to clone).
#[derive(Debug, Clone)]
pub struct Conn {
    out: mpsc::UnboundedSender<Frame>,
}

impl Conn {
    /// Sends `bytes` on stream `id`, split into frames; false once the connection is gone.
    pub fn data(&self, id: u32, bytes: &[u8]) -> bool {
        bytes.chunks(CHUNK).all(|c| {
            self.out
                .send(Frame::Data {
                    stream_id: id,
                    flags: 0,
                    data: Bytes::copy_from_slice(c),
                })
                .is_ok()
        })
    }

    /// Half-closes stream `id` (an empty data frame with FIN).
    pub fn fin(&self, id: u32) {
        let _ = self.out.send(Frame::Data {
            stream_id: id,
            flags: FLAG_FIN,
            data: Bytes::new(),
        });
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.out.is_closed()
    }
}

/// Starts serving a SPDY connection over `io`: returns the frame sender and the streams the
/// client opens (the receiver closes when the connection ends).
pub fn start<IO>(io: IO) -> (Conn, mpsc::UnboundedReceiver<Incoming>)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Frame>();
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut codec = Codec::new();
        let mut buf = BytesMut::new();
        while let Some(frame) = out_rx.recv().await {
            buf.clear();
            codec.encode(&frame, &mut buf);
            if wr.write_all(&buf).await.is_err() || wr.flush().await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let conn = Conn { out: out_tx };
    let reader_conn = conn.clone();
    tokio::spawn(async move {
        let out = reader_conn.out;
        let mut codec = Codec::new();
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let mut streams: BTreeMap<u32, mpsc::UnboundedSender<Bytes>> = BTreeMap::new();
        'read: loop {
            loop {
                let frame = match codec.decode(&mut buf) {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!("SPDY connection closed on a bad frame: {e}");
                        let _ = out.send(Frame::GoAway {
                            last_good: streams.keys().next_back().copied().unwrap_or(0),
                            status: 1,
                        });
                        break 'read;
                    }
                };
                match frame {
                    Frame::SynStream {
                        stream_id,
                        flags,
                        headers,
                        ..
                    } => {
                        let (tx, rx) = mpsc::unbounded_channel();
                        if flags & FLAG_FIN == 0 {
                            streams.insert(stream_id, tx);
                        }
                        let _ = out.send(Frame::SynReply {
                            stream_id,
                            flags: 0,
                            headers: Vec::new(),
                        });
                        let _ = in_tx.send(Incoming {
                            id: stream_id,
                            headers,
                            data: rx,
                        });
                    }
                    Frame::Data {
                        stream_id,
                        flags,
                        data,
                    } => {
                        if let Some(tx) = streams.get(&stream_id)
                            && !data.is_empty()
                        {
                            let _ = tx.send(data);
                        }
                        if flags & FLAG_FIN != 0 {
                            streams.remove(&stream_id);
                        }
                    }
                    Frame::RstStream { stream_id, .. } => {
                        streams.remove(&stream_id);
                    }
                    Frame::Ping { id } => {
                        let _ = out.send(Frame::Ping { id });
                    }
                    Frame::GoAway { .. } => break 'read,
                    Frame::SynReply { .. }
                    | Frame::Headers { .. }
                    | Frame::Settings { .. }
                    | Frame::WindowUpdate { .. } => {}
                }
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    (conn, in_rx)
}
