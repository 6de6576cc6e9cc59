//! The wire protocols of exec, attach and port-forward spoken by hand over loopback HTTP:
//! the older WebSocket channel protocols (v4, base64, `channel.k8s.io` with its plain-text
//! error channel), terminals and resize, subprotocol refusal, requests without an upgrade,
//! and SPDY/3.1 exec driven by this crate's own frame codec.

#![allow(clippy::unwrap_used)]

mod api_stream_common;
mod common;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use odo_sim::api::stream::spdy::frame::{Codec, FLAG_FIN, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

async fn server() -> (
    odo_sim::Sim,
    String,
    tempfile::TempDir,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (sim, _rt) = api_stream_common::sim_with_pods().await;
    let dir = tempfile::tempdir().unwrap();
    let (kc, server) = common::serve(&sim, dir.path(), None).await;
    let text = std::fs::read_to_string(&kc).unwrap();
    let addr = text
        .split("http://")
        .nth(1)
        .and_then(|r| {
            r.split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                .next()
        })
        .unwrap()
        .to_string();
    (sim, addr, dir, server)
}

/// Opens a WebSocket offering `protocols`; returns the chosen one and the messages received
/// after sending `send`, up to and including the server's close frame.
async fn ws_session(
    addr: &str,
    query: &str,
    protocols: &str,
    send: Vec<Message>,
) -> (String, Vec<Message>) {
    let mut req = format!("ws://{addr}/api/v1/namespaces/default/pods/solo/{query}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    let chosen = resp
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    for m in send {
        ws.send(m).await.unwrap();
    }
    let mut got = Vec::new();
    while let Some(Ok(m)) = ws.next().await {
        let close = m.is_close();
        got.push(m);
        if close {
            break;
        }
    }
    (chosen, got)
}

/// The session ended with a normal (1000) close frame from the server, as the API server's
/// stream ends a finished exec.
fn closed_normally(msgs: &[Message]) -> bool {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    matches!(msgs.last(), Some(Message::Close(Some(f))) if f.code == CloseCode::Normal)
}

fn binary(ch: u8, payload: &[u8]) -> Message {
    let mut v = vec![ch];
    v.extend_from_slice(payload);
    Message::Binary(Bytes::from(v))
}

fn on_channel(msgs: &[Message], ch: u8) -> Vec<u8> {
    msgs.iter()
        .filter_map(|m| match m {
            Message::Binary(b) if b.first() == Some(&ch) => Some(b[1..].to_vec()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_channel_protocols() {
    let (_sim, addr, _dir, _server) = server().await;
    // v4: the exit is a Status on channel 3.
    let (chosen, got) = ws_session(
        &addr,
        "exec?command=exit&command=4&stdout=true&stderr=true",
        "v4.channel.k8s.io",
        vec![],
    )
    .await;
    assert_eq!(chosen, "v4.channel.k8s.io");
    let status: serde_json::Value = serde_json::from_slice(&on_channel(&got, 3)).unwrap();
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "4");
    assert_eq!(on_channel(&got, 2), b"exiting with 4\n");
    assert!(closed_normally(&got), "{:?}", got.last());

    // channel.k8s.io: the error channel carries text, and nothing on success.
    let (_, got) = ws_session(
        &addr,
        "exec?command=exit&command=2&stderr=true",
        "channel.k8s.io",
        vec![],
    )
    .await;
    let text = String::from_utf8(on_channel(&got, 3)).unwrap();
    assert!(
        text.starts_with("command terminated with non-zero exit code"),
        "{text}"
    );
    let (_, got) = ws_session(
        &addr,
        "exec?command=echo&command=ok&stdout=true",
        "channel.k8s.io",
        vec![],
    )
    .await;
    assert_eq!(on_channel(&got, 1), b"ok\n");
    assert!(on_channel(&got, 3).is_empty());
    assert!(closed_normally(&got), "{:?}", got.last());

    // v4.base64: text frames, a channel digit and base64.
    let (chosen, got) = ws_session(
        &addr,
        "exec?command=echo&command=b64&stdout=true",
        "v4.base64.channel.k8s.io",
        vec![],
    )
    .await;
    assert_eq!(chosen, "v4.base64.channel.k8s.io");
    let texts: Vec<String> = got
        .iter()
        .filter_map(|m| m.to_text().ok().map(str::to_string))
        .collect();
    assert!(texts.contains(&"1YjY0Cg==".to_string()), "{texts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_and_resize_over_v5() {
    let (_sim, addr, _dir, _server) = server().await;
    let (_, got) = ws_session(
        &addr,
        "exec?command=tty&stdin=true&stdout=true&tty=true",
        "v5.channel.k8s.io",
        vec![
            binary(4, br#"{"Width":120,"Height":40}"#),
            binary(255, &[0]),
        ],
    )
    .await;
    assert_eq!(
        String::from_utf8(on_channel(&got, 1)).unwrap(),
        "/dev/pts/0\nsize 120x40\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_match_the_api_server() {
    let (_sim, addr, _dir, _server) = server().await;
    let http = reqwest_free_get(
        &addr,
        "/api/v1/namespaces/default/pods/solo/exec?command=ls&stdout=true",
    )
    .await;
    assert!(http.starts_with("HTTP/1.1 400"), "{http}");
    assert!(http.contains("Upgrade request required"), "{http}");
    let mut req =
        format!("ws://{addr}/api/v1/namespaces/default/pods/solo/exec?command=ls&stdout=true")
            .into_client_request()
            .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "bogus.k8s.io".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    let http = reqwest_free_get(
        &addr,
        "/api/v1/namespaces/default/pods/solo/exec?stdout=true",
    )
    .await;
    assert!(
        http.contains("Upgrade request required") || http.contains("at least 1 command"),
        "{http}"
    );
}

/// A plain GET over a raw socket (the answer's status line and body).
async fn reqwest_free_get(addr: &str, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spdy_exec_with_the_frame_codec() {
    let (_sim, addr, _dir, _server) = server().await;
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "POST /api/v1/namespaces/default/pods/solo/exec?command=cat&stdin=true&stdout=true&stderr=true HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-stream-protocol-version: v4.channel.k8s.io")
    );
    let mut codec = Codec::new();
    let mut out = BytesMut::new();
    let h = |t: &str| vec![("streamtype".to_string(), t.to_string())];
    // The ping goes first: the server answers it as it reads it, so the pong cannot be lost
    // to the connection closing once `cat` has seen the end of stdin and the streams end.
    codec.encode(&Frame::Ping { id: 9 }, &mut out);
    for (id, t) in [(1, "error"), (3, "stdin"), (5, "stdout"), (7, "stderr")] {
        codec.encode(
            &Frame::SynStream {
                stream_id: id,
                associated: 0,
                priority: 0,
                flags: 0,
                headers: h(t),
            },
            &mut out,
        );
    }
    codec.encode(
        &Frame::Data {
            stream_id: 3,
            flags: 0,
            data: Bytes::from_static(b"over spdy\n"),
        },
        &mut out,
    );
    codec.encode(
        &Frame::Data {
            stream_id: 3,
            flags: FLAG_FIN,
            data: Bytes::new(),
        },
        &mut out,
    );
    s.write_all(&out).await.unwrap();
    let mut buf = BytesMut::new();
    let (mut stdout, mut error, mut replies, mut pong, mut fins) =
        (Vec::new(), Vec::new(), 0, false, 0);
    while fins < 3 || !pong {
        if let Some(f) = codec.decode(&mut buf).unwrap() {
            match f {
                Frame::SynReply { .. } => replies += 1,
                Frame::Ping { id } => pong = id == 9,
                Frame::Data {
                    stream_id,
                    flags,
                    data,
                } => {
                    match stream_id {
                        5 => stdout.extend_from_slice(&data),
                        1 => error.extend_from_slice(&data),
                        _ => {}
                    }
                    if flags & FLAG_FIN != 0 {
                        fins += 1;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
            continue;
        }
        let n = s.read_buf(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed early");
    }
    assert_eq!(replies, 4);
    assert!(pong);
    assert_eq!(stdout, b"over spdy\n");
    let status: serde_json::Value = serde_json::from_slice(&error).unwrap();
    assert_eq!(status["status"], "Success");
}
