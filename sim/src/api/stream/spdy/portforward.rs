//! Port-forward over SPDY (`portforward.k8s.io`), also when tunnelled in a WebSocket: per
//! forwarded connection the client opens an error stream and a data stream carrying the
//! same `requestID` and `port`; the server connects to the port in the pod and copies bytes
//! until the pod side ends, then closes both streams. Failures go on the error stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conn::{self, Conn, Incoming};
use super::frame::header;
use crate::kubelet::ContainerRuntime;

/// The SPDY protocol name of port-forward.
pub const PROTOCOL: &str = "portforward.k8s.io";

/// Where a port-forward goes.
#[derive(Clone)]
pub struct Target {
    /// The runtime that opens connections.
    pub runtime: Arc<dyn ContainerRuntime>,
    /// The pod as stored (name and UID for messages and `connect`).
    pub pod: serde_json::Value,
}

#[derive(Default)]
struct Pair {
    data: Option<Incoming>,
    error: Option<Incoming>,
}

/// Serves port-forward streams on a SPDY connection over `io` until it ends.
pub async fn run<IO>(io: IO, target: Target)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (conn, mut incoming) = conn::start(io);
    let mut pairs: BTreeMap<String, Pair> = BTreeMap::new();
    let mut unnamed = 0u64;
    while let Some(s) = incoming.recv().await {
        let kind = header(&s.headers, "streamtype")
            .unwrap_or_default()
            .to_string();
        // Clients before requestID paired an error stream with the data stream after it.
        let request = match header(&s.headers, "requestid") {
            Some(r) => r.to_string(),
            None => {
                let key = format!("unnamed-{unnamed}");
                if kind == "data" {
                    unnamed += 1;
                }
                key
            }
        };
        let pair = pairs.entry(request.clone()).or_default();
        match kind.as_str() {
            "data" => pair.data = Some(s),
            "error" => pair.error = Some(s),
            _ => continue,
        }
        if pair.data.is_some()
            && pair.error.is_some()
            && let Some(Pair {
                data: Some(data),
                error: Some(error),
            }) = pairs.remove(&request)
        {
            tokio::spawn(forward(conn.clone(), target.clone(), data, error));
        }
    }
}

async fn forward(conn: Conn, target: Target, mut data: Incoming, error: Incoming) {
    let port = header(&data.headers, "port").and_then(|p| p.parse::<u16>().ok());
    let uid = target
        .pod
        .pointer("/metadata/uid")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string();
    let result = match port {
        Some(p) => target
            .runtime
            .connect(&uid, p)
            .map_err(|e| crate::api::stream::forward_error(p, &target.pod, &e.to_string())),
        None => Err(format!(
            "invalid port header {:?}",
            header(&data.headers, "port").unwrap_or_default()
        )),
    };
    match result {
        Err(msg) => {
            conn.data(error.id, msg.as_bytes());
        }
        Ok(duplex) => {
            let (mut rd, mut wr) = tokio::io::split(duplex);
            let to_pod = tokio::spawn(async move {
                while let Some(b) = data.data.recv().await {
                    if wr.write_all(&b).await.is_err() {
                        return;
                    }
                }
                let _ = wr.shutdown().await;
            });
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if !conn.data(data.id, &buf[..n]) {
                            break;
                        }
                    }
                }
            }
            to_pod.abort();
        }
    }
    conn.fin(data.id);
    conn.fin(error.id);
}
