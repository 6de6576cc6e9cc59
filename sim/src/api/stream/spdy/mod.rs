//! SPDY/3.1 for exec, attach and port-forward, as client-go based tools speak it: the HTTP
//! upgrade (`Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version`), the framing ([`frame`]), the
//! header blocks ([`headers`]), the connection ([`conn`]), and the two uses ([`exec`],
//! [`portforward`]). [`tunnel`] carries the same bytes inside WebSocket binary messages, as
//! kubectl's port-forward does.

pub mod conn;
pub mod dictionary;
pub mod exec;
pub mod frame;
pub mod headers;
pub mod portforward;

use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::extract::ws::{Message, WebSocket};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::error::{ApiError, ApiResult};

/// The header carrying the offered and chosen stream protocols.
pub const PROTOCOL_HEADER: &str = "x-stream-protocol-version";

/// The protocols the client offers, in its order.
pub fn offered(req: &Request) -> Vec<String> {
    req.headers()
        .get_all(PROTOCOL_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Chooses the first offered protocol the server supports (none offered: the legacy
/// unnamed protocol, `Ok(None)`); a 403 as the kubelet answers when nothing fits.
pub fn negotiate<'a>(offered: &[String], supported: &[&'a str]) -> ApiResult<Option<&'a str>> {
    if offered.is_empty() {
        return Ok(None);
    }
    offered
        .iter()
        .find_map(|o| supported.iter().find(|s| **s == o).copied())
        .map(Some)
        .ok_or_else(|| {
            let mut e = ApiError::bad_request(format!(
                "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{}]",
                offered.join(" "),
                supported.join(" ")
            ));
            e.code = 403;
            e.reason = "Forbidden".into();
            e
        })
}

/// Answers `101 Switching Protocols` to SPDY/3.1 and runs `serve` on the upgraded
/// connection once hyper hands it over.
pub fn upgrade<F, Fut>(mut req: Request, protocol: Option<&str>, serve: F) -> ApiResult<Response>
where
    F: FnOnce(TokioIo<hyper::upgrade::Upgraded>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let on_upgrade = req
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| ApiError::internal("this connection cannot be upgraded"))?;
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => serve(TokioIo::new(upgraded)).await,
            Err(e) => tracing::debug!("SPDY upgrade failed: {e}"),
        }
    });
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    if let Some(p) = protocol
        && let Ok(v) = HeaderValue::from_str(p)
    {
        h.insert(PROTOCOL_HEADER, v);
    }
    Ok(resp)
}

/// Bridges a WebSocket whose binary messages carry a byte stream to an in-memory duplex:
/// the returned end reads what the client sends and writes what the client receives.
pub fn tunnel(socket: WebSocket) -> DuplexStream {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let (mut rd, mut wr) = tokio::io::split(theirs);
    let (mut sink, mut stream) = socket.split();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            match msg {
                Message::Binary(b) if wr.write_all(&b).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = wr.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let msg = Message::Binary(bytes::Bytes::copy_from_slice(&buf[..n]));
                    if sink.send(msg).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = sink
            .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                code: axum::extract::ws::close_code::NORMAL,
                reason: "".into(),
            })))
            .await;
        let _ = sink.close().await;
    });
    ours
}
