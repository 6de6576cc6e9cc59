//! Decoding bodies captured from the real kubectl (v1.32) `create` commands, a round trip
//! against a small encoder model, and fuzzing: no input may panic.

use proptest::prelude::*;
use serde_json::json;

use super::{ProtoError, decode, go_duration};

const FIXTURES: &[(&str, &[u8])] = &[
    ("configmap", include_bytes!("testdata/configmap.pb")),
    (
        "configmap-binary",
        include_bytes!("testdata/configmap-binary.pb"),
    ),
    ("secret", include_bytes!("testdata/secret.pb")),
    ("namespace", include_bytes!("testdata/namespace.pb")),
    ("deployment", include_bytes!("testdata/deployment.pb")),
    ("service", include_bytes!("testdata/service.pb")),
    ("job", include_bytes!("testdata/job.pb")),
    ("ingress", include_bytes!("testdata/ingress.pb")),
];

#[test]
fn kubectl_create_bodies_decode() {
    for (name, bytes) in FIXTURES {
        let v = decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_json_snapshot!(format!("kubectl_create_{name}"), v);
    }
}

#[test]
fn envelope_errors_say_what_is_wrong() {
    assert_eq!(decode(b"{}"), Err(ProtoError::NoMagic));
    // An envelope for a kind without a schema.
    let mut body = b"k8s\0".to_vec();
    let type_meta = [field_bytes(1, b"example.com/v1"), field_bytes(2, b"Widget")].concat();
    body.extend(field_bytes(1, &type_meta));
    let err = decode(&body)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("example.com/v1/Widget"), "{err}");
    // A length that runs past the end names the field.
    let mut body = b"k8s\0".to_vec();
    let type_meta = [field_bytes(1, b"v1"), field_bytes(2, b"ConfigMap")].concat();
    body.extend(field_bytes(1, &type_meta));
    body.extend(field_bytes(2, &field_bytes(1, &[0x0a, 0x05, b'a'])));
    let err = decode(&body)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(".metadata") && err.contains("past the end"),
        "{err}"
    );
}

#[test]
fn durations_read_like_go() {
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(1_500_000_000), "1.5s");
    assert_eq!(go_duration(90_000_000_000), "1m30s");
    assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    assert_eq!(go_duration(2_000_000), "2ms");
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn field_bytes(tag: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = varint(tag << 3 | 2);
    out.extend(varint(payload.len() as u64));
    out.extend_from_slice(payload);
    out
}

fn field_varint(tag: u64, v: u64) -> Vec<u8> {
    let mut out = varint(tag << 3);
    out.extend(varint(v));
    out
}

fn map_entries(tag: u64, map: &std::collections::BTreeMap<String, String>) -> Vec<u8> {
    map.iter()
        .flat_map(|(k, v)| {
            field_bytes(
                tag,
                &[field_bytes(1, k.as_bytes()), field_bytes(2, v.as_bytes())].concat(),
            )
        })
        .collect()
}

/// The model: a ConfigMap as kubectl would build it, encoded the way Go's generated
/// marshallers write it (every non-pointer field, including empty strings).
fn encode_configmap(
    name: &str,
    labels: &std::collections::BTreeMap<String, String>,
    data: &std::collections::BTreeMap<String, String>,
    immutable: Option<bool>,
    created: u64,
) -> Vec<u8> {
    let meta = [
        field_bytes(1, name.as_bytes()),
        field_bytes(2, b""),
        field_bytes(3, b""),
        field_bytes(6, b""),
        field_varint(7, 0),
        field_bytes(
            8,
            &if created == 0 {
                vec![]
            } else {
                field_varint(1, created)
            },
        ),
        map_entries(11, labels),
    ]
    .concat();
    let mut obj = field_bytes(1, &meta);
    obj.extend(map_entries(2, data));
    if let Some(b) = immutable {
        obj.extend(field_varint(4, u64::from(b)));
    }
    let type_meta = [field_bytes(1, b"v1"), field_bytes(2, b"ConfigMap")].concat();
    let mut body = b"k8s\0".to_vec();
    body.extend(field_bytes(1, &type_meta));
    body.extend(field_bytes(2, &obj));
    body.extend(field_bytes(3, b""));
    body.extend(field_bytes(4, b""));
    body
}

fn key() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9.-]{0,12}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn configmaps_round_trip(
        name in "[a-z][a-z0-9-]{0,20}",
        labels in proptest::collection::btree_map(key(), "[a-z0-9]{0,8}", 0..4),
        data in proptest::collection::btree_map(key(), "\\PC{0,16}", 0..5),
        immutable in proptest::option::of(any::<bool>()),
        created in prop_oneof![Just(0u64), 1_000_000_000u64..2_000_000_000],
    ) {
        let body = encode_configmap(&name, &labels, &data, immutable, created);
        let got = decode(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut meta = json!({"name": name});
        if created != 0 {
            let ts = jiff::Timestamp::from_second(created as i64).map_err(|e| TestCaseError::fail(e.to_string()))?;
            meta["creationTimestamp"] = json!(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
        if !labels.is_empty() {
            meta["labels"] = json!(labels);
        }
        let mut want = json!({"metadata": meta, "apiVersion": "v1", "kind": "ConfigMap"});
        if !data.is_empty() {
            want["data"] = json!(data);
        }
        if immutable == Some(true) {
            want["immutable"] = json!(true);
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut body = b"k8s\0".to_vec();
        body.extend(tail);
        let _ = decode(&body);
    }

    #[test]
    fn mutated_kubectl_bodies_never_panic(
        which in 0..FIXTURES.len(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut body = FIXTURES[which].1.to_vec();
        for (at, byte) in flips {
            let i = 4 + at % (body.len() - 4);
            body[i] = byte;
        }
        let _ = decode(&body);
        let cut = 4 + cut % (body.len() - 4);
        let _ = decode(&body[..cut]);
    }
}

#[test]
fn nesting_past_the_limit_is_an_error() {
    let r = super::message("api.core.v1.Pod", &[], "", super::MAX_DEPTH + 1);
    assert!(matches!(r, Err(ProtoError::Malformed { .. })), "{r:?}");
}
