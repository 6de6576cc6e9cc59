//! Faults as data: what can go wrong in a cluster, injected with `Sim::inject` and recorded
//! in the event trace.
//!
//! Cluster faults (a killed container, a deleted pod, a node that stops, images that cannot
//! be pulled, a full volume) act on the simulated cluster directly. API faults (errors and
//! latency by verb and resource, dropped watches) act on requests from clients: the router
//! is wrapped in [`layer`], which consults the rules with the cluster's seeded RNG; the
//! cluster's own controllers write to the store directly and are not affected.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;

use crate::cluster::World;
use crate::error::ApiError;
use crate::store::{DeleteOptions, ObjKey};

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type")]
pub enum Fault {
    /// The container (or every container, with `None`) of a pod exits with 137; `oom`
    /// reports it as `OOMKilled`.
    KillContainer {
        /// Namespace of the pod.
        namespace: String,
        /// Pod name.
        pod: String,
        /// Container name; all running containers when absent.
        container: Option<String>,
        /// Report the exit as OOMKilled.
        #[serde(default)]
        oom: bool,
    },
    /// The pod is deleted (as `kubectl delete pod` would).
    DeletePod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        pod: String,
    },
    /// The node's kubelet stops: the node goes NotReady after 40 s, its pods are evicted
    /// after another 300 s.
    NodeDown {
        /// Node name.
        node: String,
    },
    /// The node's kubelet comes back.
    NodeUp {
        /// Node name.
        node: String,
    },
    /// Pulls of this image fail (`ErrImagePull`, then `ImagePullBackOff`) until healed.
    ImagePullFailure {
        /// Image reference, exactly as in the pod spec.
        image: String,
        /// false heals the fault.
        #[serde(default = "yes")]
        active: bool,
    },
    /// A share of API requests fail with `code`.
    ApiErrors {
        /// Verb (get, list, watch, create, update, patch, delete); all when absent.
        verb: Option<String>,
        /// Resource (plural, e.g. pods); all when absent.
        resource: Option<String>,
        /// HTTP status: 500, 503, 429, 504, 409 ...
        code: u16,
        /// Probability per request, 0.0..=1.0.
        rate: f64,
    },
    /// API requests are delayed (wall time).
    ApiLatency {
        /// Verb; all when absent.
        verb: Option<String>,
        /// Resource; all when absent.
        resource: Option<String>,
        /// Delay per request.
        latency: Duration,
    },
    /// Removes every API error and latency rule.
    ClearApiFaults,
    /// Every open watch is closed; clients must resume or relist.
    WatchDrop,
    /// A claim's volume is full (writes fail with ENOSPC in the runtime) or not.
    DiskFull {
        /// Namespace of the claim.
        namespace: String,
        /// Claim name.
        claim: String,
        /// false frees it.
        #[serde(default = "yes")]
        full: bool,
    },
}

impl From<ApiError> for FaultError {
    fn from(e: ApiError) -> Self {
        Self::Api(Box::new(e))
    }
}

fn yes() -> bool {
    true
}

/// Why a fault could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// The pod is not running on any node the kubelet knows.
    #[error("pod {namespace}/{pod} has no running container{}; check `kubectl get pod -n {namespace} {pod}`", .container.as_ref().map(|c| format!(" named {c:?}")).unwrap_or_default())]
    NoSuchContainer {
        /// Namespace.
        namespace: String,
        /// Pod.
        pod: String,
        /// Container asked for.
        container: Option<String>,
    },
    /// The named node does not exist.
    #[error("node {0:?} does not exist; nodes are named sim-node-1, sim-node-2, ...")]
    NoSuchNode(String),
    /// The store refused the operation.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// A rate outside 0..=1.
    #[error("rate {0} is not a probability; use a value from 0.0 to 1.0")]
    BadRate(f64),
}

/// Cluster-side fault state.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    pull_failures: BTreeSet<String>,
    disk_full: BTreeSet<ObjKey>,
}

impl FaultState {
    /// Whether pulls of `image` fail.
    pub fn pull_fails(&self, image: &str) -> bool {
        self.pull_failures.contains(image)
    }

    /// Whether a claim's volume is full.
    pub fn disk_full(&self, ns: &str, claim: &str) -> bool {
        self.disk_full
            .contains(&(ns.to_string(), claim.to_string()))
    }
}

#[derive(Debug, Clone)]
enum ApiRule {
    Error {
        verb: Option<String>,
        resource: Option<String>,
        code: u16,
        rate: f64,
    },
    Latency {
        verb: Option<String>,
        resource: Option<String>,
        latency: Duration,
    },
}

/// API-side fault rules, shared with the router layer.
#[derive(Debug)]
pub struct ApiFaults {
    inner: Mutex<(Vec<ApiRule>, rand_chacha::ChaCha8Rng)>,
}

impl ApiFaults {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            inner: Mutex::new((Vec::new(), crate::clock::cluster_rng(seed ^ 0xfa17))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<ApiRule>, rand_chacha::ChaCha8Rng)> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What to do with a request: an error to return, and a delay to wait first.
    pub fn decide(&self, verb: &str, resource: &str) -> (Option<ApiError>, Duration) {
        let mut g = self.lock();
        let (rules, rng) = &mut *g;
        let mut delay = Duration::ZERO;
        let mut error = None;
        let matches = |v: &Option<String>, r: &Option<String>| {
            v.as_deref().is_none_or(|v| v == verb) && r.as_deref().is_none_or(|r| r == resource)
        };
        for rule in rules.iter() {
            match rule {
                ApiRule::Latency {
                    verb: v,
                    resource: r,
                    latency,
                } if matches(v, r) => delay += *latency,
                ApiRule::Error {
                    verb: v,
                    resource: r,
                    code,
                    rate,
                } if matches(v, r) && error.is_none() && rng.random_bool(rate.clamp(0.0, 1.0)) => {
                    error = Some(error_for(*code, verb, resource));
                }
                _ => {}
            }
        }
        (error, delay)
    }
}

fn error_for(code: u16, verb: &str, resource: &str) -> ApiError {
    match code {
        429 => ApiError::too_many_requests(1),
        504 => ApiError::timeout(format!(
            "the server was unable to return a response in the time allotted, but may still be processing the request ({verb} {resource})"
        )),
        409 => ApiError::conflict(
            "",
            resource,
            "",
            "the object has been modified; please apply your changes to the latest version and try again",
        ),
        _ => {
            let mut e = ApiError::internal(format!("injected fault on {verb} {resource}"));
            e.code = code;
            if code == 503 {
                e.reason = "ServiceUnavailable".into();
            }
            e
        }
    }
}

/// The verb and resource of an API request path (`/api/v1/namespaces/ns/pods/x` -> get pods).
pub fn classify(method: &http::Method, path: &str, query: Option<&str>) -> (String, String) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest: &[&str] = match segs.first() {
        Some(&"api") if segs.len() >= 2 => &segs[2..],
        Some(&"apis") if segs.len() >= 3 => &segs[3..],
        _ => &[],
    };
    let rest = match rest {
        ["namespaces", _, tail @ ..] if !tail.is_empty() => tail,
        r => r,
    };
    let resource = rest.first().copied().unwrap_or("").to_string();
    let named = rest.len() >= 2;
    let watch = query.is_some_and(|q| q.split('&').any(|kv| kv == "watch=true" || kv == "watch=1"));
    let verb = match *method {
        http::Method::GET if watch => "watch",
        http::Method::GET if named => "get",
        http::Method::GET => "list",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    };
    (verb.to_string(), resource)
}

/// Router middleware applying API faults.
pub async fn layer(
    axum::extract::State(faults): axum::extract::State<Arc<ApiFaults>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (verb, resource) = classify(req.method(), req.uri().path(), req.uri().query());
    let (error, delay) = faults.decide(&verb, &resource);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(e) = error {
        let status =
            http::StatusCode::from_u16(e.code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(e.to_status())).into_response();
        if let Some(secs) = e.retry_after
            && let Ok(v) = http::HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
        return resp;
    }
    next.run(req).await
}

/// Applies one fault.
pub(crate) fn apply(w: &mut World<'_>, api: &ApiFaults, fault: Fault) -> Result<(), FaultError> {
    let text = serde_json::to_string(&fault).unwrap_or_default();
    w.trace(|| format!("fault {text}"));
    match fault {
        Fault::KillContainer {
            namespace,
            pod,
            container,
            oom,
        } => {
            let key = (namespace.clone(), pod.clone());
            if crate::kubelet::pod::kill(w, &key, container.as_deref(), oom) {
                Ok(())
            } else {
                Err(FaultError::NoSuchContainer {
                    namespace,
                    pod,
                    container,
                })
            }
        }
        Fault::DeletePod { namespace, pod } => {
            let tid = w.kinds.pod.ok_or_else(|| ApiError::no_route("pods"))?;
            w.store
                .delete(tid, &namespace, &pod, &DeleteOptions::default())?;
            Ok(())
        }
        Fault::NodeDown { node } | Fault::NodeUp { node }
            if !w.cache().nodes.contains_key(&(String::new(), node.clone())) =>
        {
            Err(FaultError::NoSuchNode(node))
        }
        Fault::NodeDown { node } => {
            crate::controllers::nodes::down(w, &node);
            Ok(())
        }
        Fault::NodeUp { node } => {
            crate::controllers::nodes::up(w, &node);
            Ok(())
        }
        Fault::ImagePullFailure { image, active } => {
            if active {
                w.st.faults.pull_failures.insert(image);
            } else {
                w.st.faults.pull_failures.remove(&image);
            }
            Ok(())
        }
        Fault::ApiErrors {
            verb,
            resource,
            code,
            rate,
        } => {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultError::BadRate(rate));
            }
            api.lock().0.push(ApiRule::Error {
                verb,
                resource,
                code,
                rate,
            });
            Ok(())
        }
        Fault::ApiLatency {
            verb,
            resource,
            latency,
        } => {
            api.lock().0.push(ApiRule::Latency {
                verb,
                resource,
                latency,
            });
            Ok(())
        }
        Fault::ClearApiFaults => {
            api.lock().0.clear();
            Ok(())
        }
        Fault::WatchDrop => {
            w.store.drop_watches();
            Ok(())
        }
        Fault::DiskFull {
            namespace,
            claim,
            full,
        } => {
            let key = (namespace.clone(), claim.clone());
            if full {
                w.st.faults.disk_full.insert(key);
            } else {
                w.st.faults.disk_full.remove(&key);
            }
            w.runtime.set_disk_full(&namespace, &claim, full);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let get = http::Method::GET;
        assert_eq!(
            classify(&get, "/api/v1/namespaces/default/pods/x", None),
            ("get".into(), "pods".into())
        );
        assert_eq!(
            classify(&get, "/api/v1/namespaces/default/pods", None),
            ("list".into(), "pods".into())
        );
        assert_eq!(
            classify(&get, "/api/v1/pods", Some("watch=true")),
            ("watch".into(), "pods".into())
        );
        assert_eq!(
            classify(
                &http::Method::POST,
                "/apis/apps/v1/namespaces/d/deployments",
                None
            ),
            ("create".into(), "deployments".into())
        );
        assert_eq!(
            classify(&get, "/api/v1/namespaces/default", None),
            ("get".into(), "namespaces".into())
        );
    }

    #[test]
    fn error_rate_one_always_fails_and_zero_never() {
        let f = ApiFaults::new(1);
        f.lock().0.push(ApiRule::Error {
            verb: Some("list".into()),
            resource: None,
            code: 503,
            rate: 1.0,
        });
        assert_eq!(f.decide("list", "pods").0.map(|e| e.code), Some(503));
        assert!(f.decide("get", "pods").0.is_none());
        f.lock().0.clear();
        f.lock().0.push(ApiRule::Error {
            verb: None,
            resource: None,
            code: 500,
            rate: 0.0,
        });
        assert!((0..100).all(|_| f.decide("get", "pods").0.is_none()));
    }
}
