//! A tiny in-memory API server for unit tests of the request side of this module (paths, apply
//! parameters, label selectors, owner references): enough of GET/LIST/PATCH(apply)/DELETE and
//! discovery to drive `apply`, `prune`, `query` and `flavor` through a real `kube::Client`.
//! Behaviour (controllers, pods) is the simulator's job, not this one's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
}

/// The fake server's state.
#[derive(Clone, Default)]
pub struct Fake {
    pub objects: Arc<Mutex<BTreeMap<(String, String), Value>>>,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub groups: Vec<&'static str>,
    uid: Arc<Mutex<u64>>,
}

fn status(code: u16, reason: &str) -> Response<kube::client::Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": reason, "reason": reason, "code": code});
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(kube::client::Body::from(body.to_string().into_bytes()))
        .unwrap()
}

fn ok(body: &Value) -> Response<kube::client::Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(kube::client::Body::from(body.to_string().into_bytes()))
        .unwrap()
}

fn matches(labels: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => labels[k].as_str() == Some(v),
            None => !labels[term].is_null(),
        })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            v.replace("%2C", ",")
                .replace("%3D", "=")
                .replace("%2F", "/")
        })
    })
}

impl Fake {
    /// A fake serving the given API groups in discovery.
    pub fn new(groups: &[&'static str]) -> Fake {
        Fake {
            groups: groups.to_vec(),
            ..Default::default()
        }
    }

    /// A client talking to this fake.
    pub fn client(&self) -> kube::Client {
        let fake = self.clone();
        let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
            let fake = fake.clone();
            async move { Ok::<_, std::convert::Infallible>(fake.handle(req).await) }
        });
        kube::Client::new(svc, "dev")
    }

    /// Stored object by collection path and name.
    pub fn get(&self, collection: &str, name: &str) -> Option<Value> {
        self.objects
            .lock()
            .ok()?
            .get(&(collection.to_string(), name.to_string()))
            .cloned()
    }

    async fn handle(&self, req: Request<kube::client::Body>) -> Response<kube::client::Body> {
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if let Ok(mut r) = self.requests.lock() {
            r.push(Recorded {
                method: method.clone(),
                path: path.clone(),
                query: query.clone(),
                content_type,
            });
        }
        if path == "/apis" {
            let groups: Vec<Value> = self
                .groups
                .iter()
                .map(|g| json!({"name": g, "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}]}))
                .collect();
            return ok(&json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}));
        }
        if path == "/version" {
            return ok(
                &json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0", "gitCommit": "", "gitTreeState": "",
                "buildDate": "", "goVersion": "", "compiler": "", "platform": ""}),
            );
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // api/v1/namespaces/ns/plural[/name] or apis/g/v/namespaces/ns/plural[/name]
        let base = if parts.first() == Some(&"api") { 2 } else { 3 };
        if parts.len() < base + 3 {
            return status(404, "NotFound");
        }
        let group = parts[1];
        let served = base == 2
            || group == "apps"
            || group == "networking.k8s.io"
            || self.groups.contains(&group);
        if !served {
            return status(404, "NotFound");
        }
        let collection = parts[..base + 3].join("/");
        let name = parts.get(base + 3).map(|s| s.to_string());
        let mut objects = match self.objects.lock() {
            Ok(o) => o,
            Err(_) => return status(500, "poisoned"),
        };
        match (method.as_str(), name) {
            ("GET", None) => {
                let selector = query_param(&query, "labelSelector").unwrap_or_default();
                let items: Vec<Value> = objects
                    .iter()
                    .filter(|((c, _), o)| {
                        *c == collection && matches(&o["metadata"]["labels"], &selector)
                    })
                    .map(|(_, o)| o.clone())
                    .collect();
                ok(
                    &json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}),
                )
            }
            ("GET", Some(n)) => match objects.get(&(collection, n)) {
                Some(o) => ok(o),
                None => status(404, "NotFound"),
            },
            ("PATCH", Some(n)) => {
                let Ok(mut obj) = serde_json::from_slice::<Value>(&body) else {
                    return status(400, "BadRequest");
                };
                let key = (collection, n);
                let (uid, generation) = match objects.get(&key) {
                    Some(old) => {
                        let g = old["metadata"]["generation"].as_i64().unwrap_or(1);
                        let changed = old["spec"] != obj["spec"];
                        (
                            old["metadata"]["uid"].clone(),
                            if changed { g + 1 } else { g },
                        )
                    }
                    None => {
                        let mut u = match self.uid.lock() {
                            Ok(u) => u,
                            Err(_) => return status(500, "poisoned"),
                        };
                        *u += 1;
                        (json!(format!("uid-{u}")), 1)
                    }
                };
                obj["metadata"]["uid"] = uid;
                obj["metadata"]["generation"] = json!(generation);
                objects.insert(key, obj.clone());
                ok(&obj)
            }
            ("DELETE", Some(n)) => match objects.remove(&(collection, n)) {
                Some(o) => ok(&o),
                None => status(404, "NotFound"),
            },
            _ => status(405, "MethodNotAllowed"),
        }
    }
}
