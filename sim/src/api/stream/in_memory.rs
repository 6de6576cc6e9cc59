//! In-process connection upgrades: [`crate::Sim::client`] calls the router as a tower
//! service, where there is no connection to upgrade, so upgrade requests are sent over an
//! in-memory HTTP/1.1 connection instead (a `tokio::io::duplex` pipe, no socket).

/// Sends one request over a fresh in-memory HTTP/1.1 connection served by `router`, so that
/// the response carries a working `hyper::upgrade::OnUpgrade`.
pub async fn send(
    router: axum::Router,
    req: http::Request<kube::client::Body>,
) -> Result<http::Response<axum::body::Body>, tower::BoxError> {
    use hyper_util::rt::TokioIo;
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let service = hyper_util::service::TowerToHyperService::new(router);
    tokio::spawn(async move {
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_io), service)
            .with_upgrades();
        if let Err(e) = conn.await {
            tracing::debug!("in-memory API connection ended: {e}");
        }
    });
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client_io)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!("in-memory client connection ended: {e}");
        }
    });
    let resp = sender.send_request(req).await?;
    Ok(resp.map(axum::body::Body::new))
}
