//! WebSocket transports: exec and attach over the channel protocols (stdin, stdout, stderr,
//! the final `Status` on channel 3, resize on 4, v5's close signal on 255) and
//! port-forward (a data and an error channel per port, each opened by the port number).

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::channel::{self, Frame, Protocol};
use super::session::{Inbound, Output, SessionRequest, status_json, status_text};

fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Binary(b) => Message::Binary(b),
        Frame::Text(t) => Message::Text(t.into()),
    }
}

/// A client message as channel and payload. As in the real server, the negotiated protocol
/// decides the encoding, not the frame type: clients such as Python's `kubernetes` send
/// text frames on the binary protocols.
fn decode(proto: &Protocol, msg: &Message) -> Option<(u8, Bytes)> {
    let data = match msg {
        Message::Binary(b) => b.clone(),
        Message::Text(t) => Bytes::copy_from_slice(t.as_str().as_bytes()),
        _ => return None,
    };
    if proto.base64 {
        proto.decode_text(std::str::from_utf8(&data).ok()?)
    } else {
        proto.decode_binary(&data)
    }
}

fn normal_close() -> Message {
    Message::Close(Some(CloseFrame {
        code: close_code::NORMAL,
        reason: "".into(),
    }))
}

/// Turns one client message into session input.
fn inbound(proto: &Protocol, ch: u8, payload: Bytes) -> Option<Inbound> {
    match ch {
        channel::STDIN if !payload.is_empty() => Some(Inbound::Stdin(payload)),
        channel::RESIZE => {
            let v: serde_json::Value = serde_json::from_slice(&payload).ok()?;
            let dim = |k: &str| {
                v.get(k)
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok())
            };
            Some(Inbound::Resize(dim("Width")?, dim("Height")?))
        }
        channel::CLOSE if proto.version >= 5 && payload.first() == Some(&channel::STDIN) => {
            Some(Inbound::StdinEof)
        }
        _ => None,
    }
}

/// How long output is held back for client-go clients (kubectl): client-go starts reading
/// the WebSocket before it has registered its streams and drops messages for streams it
/// does not know yet, which only the latency of a real kubelet hides.
pub const CLIENT_GO_SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// Whether a `User-Agent` is client-go's (`kubectl/v1.32.4 (linux/amd64) kubernetes/abc`).
pub fn is_client_go(user_agent: &str) -> bool {
    user_agent.contains(") kubernetes/")
}

/// Runs an exec or attach session over an upgraded WebSocket; output is held back for
/// `settle` first (see [`CLIENT_GO_SETTLE`]).
pub async fn run_session(
    socket: WebSocket,
    proto: Protocol,
    req: SessionRequest,
    (input, mut output): (mpsc::UnboundedSender<Inbound>, mpsc::Receiver<Output>),
    settle: std::time::Duration,
) {
    let (mut sink, mut stream) = socket.split();
    // Like the API server: an empty message on the lowest writable channel tells the client
    // that the streams are set up.
    let first = if req.stdout {
        channel::STDOUT
    } else if req.stderr {
        channel::STDERR
    } else {
        channel::ERROR
    };
    if sink
        .send(to_message(proto.encode(first, &[])))
        .await
        .is_err()
    {
        let _ = input.send(Inbound::Gone);
        return;
    }
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
            if let Some((ch, payload)) = decode(&proto, &msg)
                && let Some(event) = inbound(&proto, ch, payload)
            {
                let _ = input.send(event);
            }
        }
        let _ = input.send(Inbound::Gone);
    });
    if !settle.is_zero() {
        tokio::time::sleep(settle).await;
    }
    while let Some(out) = output.recv().await {
        let frame = match out {
            Output::Stdout(b) => proto.encode(channel::STDOUT, &b),
            Output::Stderr(b) => proto.encode(channel::STDERR, &b),
            Output::Exit(exit) => {
                let status = if proto.version >= 4 {
                    Some(status_json(&exit, req.attach).to_string())
                } else {
                    status_text(&exit, req.attach)
                };
                if let Some(s) = status {
                    let _ = sink
                        .send(to_message(proto.encode(channel::ERROR, s.as_bytes())))
                        .await;
                }
                break;
            }
        };
        if sink.send(to_message(frame)).await.is_err() {
            break;
        }
    }
    let _ = sink.send(normal_close()).await;
    let _ = sink.close().await;
    reader.abort();
}

/// One forwarded port: its number and the connection to it (or why there is none).
pub type PortConnection = (u16, Result<tokio::io::DuplexStream, String>);

/// Runs a port-forward over an upgraded WebSocket: channel `2i` carries the data of the
/// i-th port, `2i+1` its errors; the first message on each is the port (little endian).
pub async fn run_port_forward(socket: WebSocket, proto: Protocol, ports: Vec<PortConnection>) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<(u8, Bytes)>(32);
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for (i, (port, conn)) in ports.into_iter().enumerate() {
        let Ok(data_ch) = u8::try_from(2 * i) else {
            break;
        };
        let err_ch = data_ch.saturating_add(1);
        let prefix = Bytes::copy_from_slice(&port.to_le_bytes());
        let _ = out_tx.send((data_ch, prefix.clone())).await;
        let _ = out_tx.send((err_ch, prefix)).await;
        match conn {
            Ok(duplex) => {
                let (mut rd, wr) = tokio::io::split(duplex);
                writers.push(Some(wr));
                let tx = out_tx.clone();
                readers.push(tokio::spawn(async move {
                    let mut buf = vec![0u8; 32 * 1024];
                    loop {
                        match rd.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                let chunk = Bytes::copy_from_slice(&buf[..n]);
                                if tx.send((data_ch, chunk)).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                }));
            }
            Err(msg) => {
                writers.push(None);
                let _ = out_tx.send((err_ch, Bytes::from(msg))).await;
            }
        }
    }
    drop(out_tx);
    let writer = tokio::spawn(async move {
        while let Some((ch, b)) = out_rx.recv().await {
            if sink.send(to_message(proto.encode(ch, &b))).await.is_err() {
                return;
            }
        }
        let _ = sink.send(normal_close()).await;
        let _ = sink.close().await;
    });
    while let Some(Ok(msg)) = stream.next().await {
        if matches!(msg, Message::Close(_)) {
            break;
        }
        let Some((ch, payload)) = decode(&proto, &msg) else {
            continue;
        };
        let idx = usize::from(ch / 2);
        if ch % 2 != 0 || payload.is_empty() {
            continue;
        }
        if let Some(slot) = writers.get_mut(idx)
            && let Some(w) = slot
            && w.write_all(&payload).await.is_err()
        {
            *slot = None;
        }
    }
    for w in writers.iter_mut().flatten() {
        let _ = w.shutdown().await;
    }
    for r in readers {
        r.abort();
    }
    // With every reader gone the writer answers the client's close and ends.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_go_is_recognised_by_its_user_agent() {
        assert!(is_client_go(
            "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd"
        ));
        assert!(is_client_go("odo/v3 (darwin/arm64) kubernetes/$Format"));
        assert!(!is_client_go("kube-rs/5.0.0"));
        assert!(!is_client_go(""));
    }

    #[test]
    fn the_protocol_decides_the_encoding_not_the_frame_type() {
        let v5 = channel::EXEC_PROTOCOLS[0];
        let b64 = channel::EXEC_PROTOCOLS[2];
        assert!(!v5.base64 && b64.base64);
        // Python's client sends stdin as text frames on v5/v4.
        assert_eq!(
            decode(&v5, &Message::Text("\u{0}typed\n".into())),
            Some((channel::STDIN, Bytes::from_static(b"typed\n")))
        );
        assert_eq!(
            decode(&v5, &Message::Binary(Bytes::from_static(b"\x00raw"))),
            Some((channel::STDIN, Bytes::from_static(b"raw")))
        );
        // The base64 protocols decode a binary frame as text.
        assert_eq!(
            decode(&b64, &Message::Binary(Bytes::from_static(b"0aGk="))),
            Some((channel::STDIN, Bytes::from_static(b"hi")))
        );
        assert_eq!(decode(&v5, &Message::Text("".into())), None);
    }
}
