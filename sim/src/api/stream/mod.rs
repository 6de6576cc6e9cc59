//! The streaming subresources of pods: `log`, `exec`, `attach` and `portforward`.
//!
//! The API server's part lives here: which container instance a request means
//! ([`resolve`]), the log options ([`log`]), and the wire protocols (the WebSocket channel
//! protocols in [`channel`] and [`ws`], SPDY/3.1 in [`spdy`], also tunnelled inside a
//! WebSocket as kubectl's port-forward does). What happens inside the container is the
//! runtime's business, reached through [`crate::kubelet::ContainerRuntime`]'s `logs`,
//! `exec`, `attach` and `connect`; [`session`] pumps bytes between the two.

pub mod channel;
pub mod in_memory;
pub mod log;
pub mod openshift_log;
pub mod resolve;
pub mod session;
pub mod spdy;
pub mod ws;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use serde_json::Value;

use crate::api::path::Target;
use crate::error::{ApiError, ApiResult};
use crate::kubelet::ContainerRuntime;
use crate::store::Store;
use resolve::Purpose;
use session::SessionRequest;

/// The subresources served here.
pub const SUBRESOURCES: &[&str] = &["log", "exec", "attach", "portforward"];

/// Whether `target` is a streaming subresource of a pod (or `builds/<name>/log` or
/// `deploymentconfigs/<name>/log`, see [`openshift_log`]).
pub fn is_stream(target: &Target) -> bool {
    if openshift_log::is_openshift_log(target) {
        return true;
    }
    target.rt.group.is_empty()
        && target.rt.plural == "pods"
        && target.name.is_some()
        && target
            .subresource
            .as_deref()
            .is_some_and(|s| SUBRESOURCES.contains(&s))
}

/// Query parameters of a streaming request, repeated keys kept (`command` repeats).
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a query string.
    pub fn parse(query: &str) -> ApiResult<Self> {
        let pairs = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        Ok(Self { pairs })
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The same query without the parameters named in `keys`.
    pub fn without(&self, keys: &[&str]) -> Self {
        Self {
            pairs: self
                .pairs
                .iter()
                .filter(|(k, _)| !keys.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | "True"))
    }
}

/// How the client wants the connection upgraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    WebSocket,
    Spdy,
    None,
}

fn upgrade_kind(headers: &HeaderMap) -> Upgrade {
    let up = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if up.contains("websocket") {
        Upgrade::WebSocket
    } else if up.starts_with("spdy/3.1") {
        Upgrade::Spdy
    } else {
        Upgrade::None
    }
}

/// Serves a streaming subresource request (see [`is_stream`]).
pub async fn serve(
    store: Arc<Store>,
    runtime: Option<Arc<dyn ContainerRuntime>>,
    target: Target,
    req: Request,
) -> ApiResult<Response> {
    if openshift_log::is_openshift_log(&target) {
        if req.method() != Method::GET {
            return Err(ApiError::method_not_allowed(
                req.method().as_str(),
                &format!("{}/log", target.rt.plural),
            ));
        }
        let query = Query::parse(req.uri().query().unwrap_or_default())?;
        return openshift_log::serve(&store, runtime, &target, &query).await;
    }
    let sub = target.subresource.as_deref().unwrap_or_default();
    let name = target.name.as_deref().unwrap_or_default();
    let ns = target.namespace.as_deref().unwrap_or_default();
    let method = req.method().clone();
    let allowed = match sub {
        "log" => method == Method::GET,
        _ => method == Method::GET || method == Method::POST,
    };
    if !allowed {
        return Err(ApiError::method_not_allowed(method.as_str(), "pods"));
    }
    let pod = store.get(target.tid, ns, name)?;
    let query = Query::parse(req.uri().query().unwrap_or_default())?;
    match sub {
        "log" => log::serve(runtime, &pod, &query, store.now()),
        "exec" | "attach" => session_request(runtime, &pod, &query, sub == "attach", req).await,
        _ => port_forward(runtime, &pod, &query, req).await,
    }
}

fn upgrade_required() -> ApiError {
    ApiError::bad_request("Upgrade request required")
}

fn no_protocol(offered: &[&str], supported: &[channel::Protocol]) -> ApiError {
    let names: Vec<&str> = supported.iter().map(|p| p.name).collect();
    ApiError::bad_request(format!(
        "requested protocol(s) are not supported: [{}]; supports [{}]",
        offered.join(" "),
        names.join(" ")
    ))
}

/// The subprotocol of kubectl's port-forward: SPDY/3.1 tunnelled in WebSocket messages.
pub const SPDY_TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// The subprotocol chosen for a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chosen {
    /// A channel protocol.
    Channel(channel::Protocol),
    /// SPDY inside the WebSocket.
    Tunnel,
}

/// Extracts the WebSocket upgrade and chooses the subprotocol, in the client's order, among
/// `supported` (and the SPDY tunnel when `tunnel`).
async fn websocket(
    req: Request,
    supported: &[channel::Protocol],
    tunnel: bool,
) -> ApiResult<(WebSocketUpgrade, Chosen)> {
    let (mut parts, _body) = req.into_parts();
    let values: Vec<String> = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    let offered = channel::offered(values.iter().map(String::as_str));
    let chosen = if offered.is_empty() {
        Some(Chosen::Channel(channel::UNNAMED))
    } else {
        offered.iter().find_map(|o| {
            if tunnel && *o == SPDY_TUNNEL_PROTOCOL {
                Some(Chosen::Tunnel)
            } else {
                channel::choose(&[o], supported).map(Chosen::Channel)
            }
        })
    };
    let chosen = chosen.ok_or_else(|| no_protocol(&offered, supported))?;
    let mut ws = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("invalid WebSocket upgrade request: {e}")))?;
    let name = match chosen {
        Chosen::Channel(p) => p.name,
        Chosen::Tunnel => SPDY_TUNNEL_PROTOCOL,
    };
    if !name.is_empty() {
        ws.set_selected_protocol(HeaderValue::from_static(name));
    }
    Ok((ws, chosen))
}

async fn session_request(
    runtime: Option<Arc<dyn ContainerRuntime>>,
    pod: &Value,
    query: &Query,
    attach: bool,
    req: Request,
) -> ApiResult<Response> {
    let sreq = SessionRequest::from_params(query, attach);
    let container = resolve::container_name(pod, query.get("container"))?;
    let id = resolve::instance(pod, &container, Purpose::Session)?;
    sreq.validate()?;
    let pod_name = id.pod.clone();
    let runtime = runtime.ok_or_else(|| log::no_runtime(&pod_name))?;
    match upgrade_kind(req.headers()) {
        Upgrade::WebSocket => {
            let user_agent = req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let settle = if ws::is_client_go(user_agent) {
                ws::CLIENT_GO_SETTLE
            } else {
                std::time::Duration::ZERO
            };
            let (ws, chosen) = websocket(req, channel::EXEC_PROTOCOLS, false).await?;
            let proto = match chosen {
                Chosen::Channel(p) => p,
                Chosen::Tunnel => channel::UNNAMED,
            };
            let (input, output) =
                session::start(&runtime, &id, &sreq).map_err(|e| resolve::stream_error(&e))?;
            Ok(ws.on_upgrade(move |socket| {
                ws::run_session(socket, proto, sreq, (input, output), settle)
            }))
        }
        Upgrade::Spdy => {
            let names: Vec<&str> = spdy::exec::PROTOCOLS.iter().map(|(n, _)| *n).collect();
            let chosen = spdy::negotiate(&spdy::offered(&req), &names)?;
            let version = spdy::exec::PROTOCOLS
                .iter()
                .find(|(n, _)| Some(*n) == chosen)
                .map_or(1, |(_, v)| *v);
            let (input, output) =
                session::start(&runtime, &id, &sreq).map_err(|e| resolve::stream_error(&e))?;
            spdy::upgrade(req, chosen, move |io| {
                spdy::exec::run(io, version, sreq, input, output)
            })
        }
        Upgrade::None => Err(upgrade_required()),
    }
}

/// The ports of a port-forward request (`ports`, repeated or comma-separated).
fn ports(query: &Query) -> ApiResult<Vec<u16>> {
    let mut out = Vec::new();
    for v in query.all("ports").iter().chain(query.all("port").iter()) {
        for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let n: u16 = p.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::bad_request(format!("invalid port {p:?}: must be 1-65535"))
            })?;
            out.push(n);
        }
    }
    Ok(out)
}

/// The message the kubelet writes on a port's error stream when forwarding fails.
pub fn forward_error(port: u16, pod: &Value, why: &str) -> String {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("error forwarding port {port} to pod {name}, uid {uid}: {why}")
}

async fn port_forward(
    runtime: Option<Arc<dyn ContainerRuntime>>,
    pod: &Value,
    query: &Query,
    req: Request,
) -> ApiResult<Response> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let runtime = runtime.ok_or_else(|| log::no_runtime(&name))?;
    let uid = pod
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let ports = ports(query)?;
    let target = spdy::portforward::Target {
        runtime: runtime.clone(),
        pod: pod.clone(),
    };
    match upgrade_kind(req.headers()) {
        Upgrade::WebSocket => {
            let (ws, chosen) = websocket(req, channel::PORT_FORWARD_PROTOCOLS, true).await?;
            let proto = match chosen {
                Chosen::Channel(p) => p,
                Chosen::Tunnel => {
                    return Ok(ws.on_upgrade(move |socket| {
                        spdy::portforward::run(spdy::tunnel(socket), target)
                    }));
                }
            };
            if ports.is_empty() {
                return Err(ApiError::bad_request(
                    "query parameter \"port\" is required",
                ));
            }
            let conns = ports
                .iter()
                .map(|&p| {
                    let c = runtime
                        .connect(&uid, p)
                        .map_err(|e| forward_error(p, pod, &e.to_string()));
                    (p, c)
                })
                .collect();
            Ok(ws.on_upgrade(move |socket| ws::run_port_forward(socket, proto, conns)))
        }
        Upgrade::Spdy => {
            let chosen = spdy::negotiate(&spdy::offered(&req), &[spdy::portforward::PROTOCOL])?;
            spdy::upgrade(req, chosen, move |io| spdy::portforward::run(io, target))
        }
        Upgrade::None => Err(upgrade_required()),
    }
}
