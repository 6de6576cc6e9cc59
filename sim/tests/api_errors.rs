//! Request-level errors: malformed bodies, unsupported media types and methods, missing
//! tokens. Each must be a `Status` with the real code and reason, and no input may panic the
//! server (a property test throws arbitrary bytes at every write path).

mod common;

use common::{MODES, harness, harness_with};
use http::{Method, Request, StatusCode};
use proptest::prelude::*;
use serde_json::Value;

async fn send(
    client: &kube::Client,
    method: Method,
    path: &str,
    ct: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, ct)
        .body(kube::client::Body::from(body))
        .expect("request");
    let resp = client.send(req).await.expect("transport");
    let code = resp.status();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn reason(v: &Value) -> &str {
    v.get("reason").and_then(Value::as_str).unwrap_or_default()
}

#[tokio::test]
async fn malformed_unsupported_and_not_allowed() {
    for mode in MODES {
        let h = harness(mode).await;
        let c = &h.client;
        let cms = "/api/v1/namespaces/default/configmaps";
        let (code, body) = send(
            c,
            Method::POST,
            cms,
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
        assert_eq!(
            (code.as_u16(), reason(&body)),
            (400, "BadRequest"),
            "{mode:?} {body}"
        );
        assert_eq!(body["kind"], "Status");

        let (code, body) = send(
            c,
            Method::POST,
            cms,
            "application/json",
            br#"{"metadata": {"name": "x"}, "data": {"a": 1}}"#.to_vec(),
        )
        .await;
        assert_eq!(
            (code.as_u16(), reason(&body)),
            (400, "BadRequest"),
            "wrong field type: {body}"
        );

        let (code, body) = send(
            c,
            Method::POST,
            cms,
            "application/json",
            br#"{"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}}"#
                .to_vec(),
        )
        .await;
        assert_eq!(code.as_u16(), 400, "{body}");

        let (code, _) = send(
            c,
            Method::POST,
            cms,
            "application/yaml",
            b"metadata:\n  name: fromyaml\ndata:\n  a: b\n".to_vec(),
        )
        .await;
        assert_eq!(code.as_u16(), 201, "YAML bodies are accepted");

        let (code, body) = send(
            c,
            Method::PATCH,
            &format!("{cms}/fromyaml"),
            "text/plain",
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(
            (code.as_u16(), reason(&body)),
            (415, "UnsupportedMediaType"),
            "{body}"
        );

        let (code, body) = send(c, Method::PUT, cms, "application/json", b"{}".to_vec()).await;
        assert_eq!(
            (code.as_u16(), reason(&body)),
            (405, "MethodNotAllowed"),
            "{body}"
        );

        let (code, body) = send(
            c,
            Method::GET,
            "/api/v1/namespaces/default/widgets",
            "application/json",
            Vec::new(),
        )
        .await;
        assert_eq!((code.as_u16(), reason(&body)), (404, "NotFound"), "{body}");
    }
}

#[tokio::test]
async fn bearer_token_is_enforced() {
    let sim = odo_sim::Sim::builder()
        .token("s3cret")
        .build()
        .expect("sim");
    let dir = tempfile::tempdir().expect("dir");
    let (kc, server) = common::serve(&sim, dir.path(), Some("s3cret")).await;
    let good = common::client_from_kubeconfig(&kc).await;
    assert!(good.apiserver_version().await.is_ok());
    let text = std::fs::read_to_string(&kc)
        .expect("kubeconfig")
        .replace("s3cret", "wrong");
    std::fs::write(&kc, text).expect("write");
    let bad = common::client_from_kubeconfig(&kc).await;
    let (code, body) = send(
        &bad,
        Method::GET,
        "/api/v1/namespaces",
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!((code.as_u16(), reason(&body)), (401, "Unauthorized"));
    server.abort();
    let err = odo_sim::server::bind("0.0.0.0:0".parse().expect("addr"), false)
        .await
        .expect_err("not loopback");
    assert!(err.to_string().contains("--allow-remote"), "{err}");
}

fn write_paths() -> Vec<(Method, &'static str, &'static str)> {
    vec![
        (
            Method::POST,
            "/api/v1/namespaces/default/pods",
            "application/json",
        ),
        (
            Method::POST,
            "/apis/apps/v1/namespaces/default/deployments",
            "application/yaml",
        ),
        (
            Method::PUT,
            "/api/v1/namespaces/default/configmaps/fixed",
            "application/json",
        ),
        (
            Method::PATCH,
            "/api/v1/namespaces/default/configmaps/fixed",
            "application/json-patch+json",
        ),
        (
            Method::PATCH,
            "/api/v1/namespaces/default/configmaps/fixed",
            "application/merge-patch+json",
        ),
        (
            Method::PATCH,
            "/api/v1/namespaces/default/configmaps/fixed",
            "application/strategic-merge-patch+json",
        ),
        (
            Method::PATCH,
            "/api/v1/namespaces/default/configmaps/fixed?fieldManager=f",
            "application/apply-patch+yaml",
        ),
        (
            Method::POST,
            "/api/v1/namespaces/default/services",
            "application/json",
        ),
        (
            Method::DELETE,
            "/api/v1/namespaces/default/configmaps/fixed",
            "application/json",
        ),
    ]
}

fn arbitrary_body() -> impl Strategy<Value = Vec<u8>> {
    let json_like = proptest::collection::vec(
        prop_oneof![
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"[".to_vec()),
            Just(b"]".to_vec()),
            Just(b"\"metadata\":".to_vec()),
            Just(b"{\"name\":\"x\"}".to_vec()),
            Just(b"\"spec\":".to_vec()),
            Just(b"\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]".to_vec()),
            Just(b",".to_vec()),
            Just(b"null".to_vec()),
            Just(b"1e999".to_vec()),
            Just(b"\"ports\":[{\"port\":-1}]".to_vec()),
            Just(b"{\"op\":\"remove\",\"path\":\"/metadata\"}".to_vec()),
            Just(b"- a: [".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..8),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat());
    prop_oneof![json_like, proptest::collection::vec(any::<u8>(), 0..256)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn no_body_makes_the_server_fail(body in arbitrary_body(), path_ix in 0usize..9) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let h = harness_with(common::Mode::InProcess, odo_sim::Sim::builder()).await;
            let (m, p, ct) = write_paths()[path_ix].clone();
            send(&h.client, Method::PUT, "/api/v1/namespaces/default/configmaps/fixed", "application/json", br#"{"metadata":{"name":"fixed"}}"#.to_vec()).await;
            let _ = send(&h.client, Method::POST, "/api/v1/namespaces/default/configmaps", "application/json", br#"{"metadata":{"name":"fixed"}}"#.to_vec()).await;
            let (code, status) = send(&h.client, m, p, ct, body).await;
            prop_assert!(code.as_u16() < 500, "{code} {status}");
            if !code.is_success() {
                prop_assert_eq!(status["kind"].as_str(), Some("Status"));
            }
            // The server still answers.
            let (code, _) = send(&h.client, Method::GET, "/api/v1/namespaces/default/configmaps", "application/json", Vec::new()).await;
            prop_assert_eq!(code.as_u16(), 200);
            Ok(())
        })?;
    }
}

/// A pod's status write keeps the spec as stored, so the server checks only its metadata and
/// status there; a badly typed status field is still a 400 naming the kind, and a good one is
/// accepted.
#[tokio::test]
async fn pod_status_writes_are_checked_against_the_schema() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, PostParams};
    for mode in MODES {
        let h = harness(mode).await;
        let pods: Api<Pod> = Api::namespaced(h.client.clone(), "default");
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "typed"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }))
        .expect("pod");
        let created = pods
            .create(&PostParams::default(), &pod)
            .await
            .expect("create");
        let put = |status: Value| {
            let mut p = serde_json::to_value(&created).expect("json");
            p["status"] = status;
            p["metadata"]
                .as_object_mut()
                .expect("metadata")
                .remove("resourceVersion");
            send(
                &h.client,
                Method::PUT,
                "/api/v1/namespaces/default/pods/typed/status",
                "application/json",
                serde_json::to_vec(&p).expect("bytes"),
            )
        };
        for (status, what) in [
            (serde_json::json!({"phase": 5}), "a number as phase"),
            (
                serde_json::json!({"conditions": "Ready"}),
                "a string as conditions",
            ),
        ] {
            let (code, body) = put(status).await;
            assert_eq!(
                (code.as_u16(), reason(&body)),
                (400, "BadRequest"),
                "{mode:?} {what}: {body}"
            );
            let message = body["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("cannot be handled as a Pod"),
                "{mode:?} {what}: {message}"
            );
        }
        let (code, body) = put(serde_json::json!({"phase": "Pending", "message": "checked"})).await;
        assert_eq!(
            code.as_u16(),
            200,
            "a well-typed status is accepted: {body}"
        );
        assert_eq!(body["status"]["message"], "checked");
    }
}
