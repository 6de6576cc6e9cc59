//! Serving the simulator over HTTP: binding (loopback unless allowed otherwise), writing a
//! kubeconfig that points at the real bound address, and periodic watch bookmarks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::Sim;

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is not loopback and remote access was not allowed.
    #[error(
        "refusing to listen on {0}: it is not a loopback address. Pass --allow-remote to serve other hosts (anyone who can reach it can change the cluster unless --token is set)"
    )]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// Writing the kubeconfig failed.
    #[error("cannot write the kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The kubeconfig YAML for a server at `addr`.
pub fn kubeconfig(addr: SocketAddr, token: Option<&str>) -> String {
    kubeconfig_with_users(addr, token, &[])
}

/// The kubeconfig YAML for a server at `addr` with more users: `(token, user)` pairs, each
/// with a context `odo-sim-<user>` (the first pair of a user only). The current context
/// `odo-sim` uses `token`, or without one the first pair's.
pub fn kubeconfig_with_users(
    addr: SocketAddr,
    token: Option<&str>,
    users: &[(String, String)],
) -> String {
    let mut user = json!({});
    if let Some(t) = token.or(users.first().map(|(t, _)| t.as_str())) {
        user["token"] = json!(t);
    }
    let mut user_entries = vec![json!({"name": "odo-sim", "user": user})];
    let mut contexts = vec![
        json!({"name": "odo-sim", "context": {"cluster": "odo-sim", "user": "odo-sim", "namespace": "default"}}),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (t, name) in users {
        if !seen.insert(name.as_str()) {
            continue;
        }
        let entry = format!("odo-sim-{name}");
        user_entries.push(json!({"name": entry, "user": {"token": t}}));
        contexts.push(json!({"name": entry, "context": {"cluster": "odo-sim", "user": entry, "namespace": "default"}}));
    }
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "odo-sim", "cluster": {"server": format!("http://{addr}")}}],
        "users": user_entries,
        "contexts": contexts,
        "current-context": "odo-sim",
        "preferences": {},
    });
    serde_yaml::to_string(&doc).unwrap_or_default()
}

/// Writes a file atomically (temp file in the same directory, then rename).
pub fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("kubeconfig")
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// A bound, not yet serving, simulator.
#[derive(Debug)]
pub struct Bound {
    listener: tokio::net::TcpListener,
    /// The address actually bound (the port is real even when 0 was asked for).
    pub addr: SocketAddr,
}

/// Binds the listener, enforcing the loopback rule.
pub async fn bind(addr: SocketAddr, allow_remote: bool) -> Result<Bound, ServeError> {
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(ServeError::NotLoopback(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok(Bound { listener, addr })
}

/// Serves `sim` on a bound listener until the future is dropped or the process ends.
pub async fn serve(sim: Sim, bound: Bound) -> std::io::Result<()> {
    let store = sim.store().clone();
    tokio::spawn(async move {
        let period = Duration::from_secs(10);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            store.send_bookmarks();
        }
    });
    axum::serve(bound.listener, sim.router()).await
}
