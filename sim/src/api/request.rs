//! Request decoding: query parameters, bodies (JSON or YAML), delete options, `Accept`
//! negotiation.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde_json::Value;

use super::protobuf;
use super::table::Representation;
use crate::error::{ApiError, ApiResult};
use crate::resources::ResourceType;
use crate::store::{DeleteOptions, FieldSelector, LabelSelector, Propagation, WriteOptions};

/// Parsed query parameters.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    /// `watch=true|1`.
    pub watch: bool,
}

impl Params {
    /// Parses a query string.
    pub fn parse(query: &str) -> ApiResult<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))?;
        let mut p = Self {
            pairs,
            watch: false,
        };
        p.watch = p.flag("watch");
        Ok(p)
    }

    /// The last value of a parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | "True"))
    }

    /// `labelSelector`.
    pub fn label_selector(&self) -> ApiResult<LabelSelector> {
        LabelSelector::parse(self.get("labelSelector").unwrap_or_default())
    }

    /// `fieldSelector` for objects of `kind`.
    pub fn field_selector(&self, kind: &str) -> ApiResult<FieldSelector> {
        FieldSelector::parse(self.get("fieldSelector").unwrap_or_default(), kind)
    }

    /// `limit`.
    pub fn limit(&self) -> ApiResult<usize> {
        match self.get("limit") {
            None | Some("") => Ok(0),
            Some(v) => v
                .parse::<i64>()
                .map(|n| usize::try_from(n.max(0)).unwrap_or(0))
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid limit {v:?}: must be a non-negative integer"
                    ))
                }),
        }
    }

    /// `resourceVersion` when `resourceVersionMatch=Exact`.
    pub fn exact_resource_version(&self) -> ApiResult<Option<u64>> {
        match self.get("resourceVersionMatch") {
            None | Some("" | "NotOlderThan") => Ok(None),
            Some("Exact") => {
                let rv = self.get("resourceVersion").unwrap_or_default();
                rv.parse::<u64>().ok().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                    ApiError::invalid("meta.k8s.io", "ListOptions", "", vec![crate::error::Cause::invalid(
                        "resourceVersionMatch",
                        "Exact",
                        "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"\"",
                    )])
                })
            }
            Some(other) => Err(ApiError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                vec![crate::error::Cause::not_supported(
                    "resourceVersionMatch",
                    other,
                    &["Exact", "NotOlderThan", ""],
                )],
            )),
        }
    }

    /// `timeoutSeconds` of a watch.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.get("timeoutSeconds").and_then(|v| v.parse().ok())
    }

    /// `dryRun`, `fieldManager`, `force`.
    pub fn write_options(&self) -> WriteOptions {
        WriteOptions {
            dry_run: self.pairs.iter().any(|(k, v)| k == "dryRun" && v == "All"),
            field_manager: self.get("fieldManager").map(str::to_string),
            force: self.flag("force"),
        }
    }
}

fn is_yaml(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("yaml"))
}

/// Decodes a body of any shape (JSON, YAML or Kubernetes protobuf by `Content-Type`).
pub fn decode_any(body: &Bytes, headers: &HeaderMap) -> ApiResult<Value> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if protobuf::is_protobuf(ct) {
        return protobuf::decode(body).map_err(|e| match e {
            protobuf::ProtoError::UnknownKind { .. } | protobuf::ProtoError::Encoding(_) => {
                let mut err = ApiError::bad_request(e.to_string());
                err.code = 415;
                err.reason = "UnsupportedMediaType".into();
                err
            }
            _ => ApiError::bad_request(format!("failed to decode the protobuf body: {e}")),
        });
    }
    let parsed: Result<Value, String> = if is_yaml(headers) {
        serde_yaml::from_slice(body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

/// Decodes an object body for `rt`.
pub fn decode_body(body: &Bytes, headers: &HeaderMap, rt: &ResourceType) -> ApiResult<Value> {
    let v = decode_any(body, headers)?;
    if !v.is_object() {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: the body must be a JSON object",
            rt.kind, rt.version, rt.kind
        )));
    }
    Ok(v)
}

/// Delete options from the query and/or a `DeleteOptions` body (kube-rs sends a body).
pub fn delete_options(params: &Params, body: &Bytes) -> ApiResult<DeleteOptions> {
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions body: {e}")))?
    };
    let policy = params
        .get("propagationPolicy")
        .map(str::to_string)
        .or_else(|| {
            body.get("propagationPolicy")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let orphan = params
        .get("orphanDependents")
        .map(|v| v == "true")
        .or_else(|| body.get("orphanDependents").and_then(Value::as_bool));
    let propagation = match (policy.as_deref(), orphan) {
        (Some("Background"), _) => Some(Propagation::Background),
        (Some("Foreground"), _) => Some(Propagation::Foreground),
        (Some("Orphan"), _) | (None, Some(true)) => Some(Propagation::Orphan),
        (None, _) => None,
        (Some(other), _) => {
            return Err(ApiError::invalid(
                "",
                "DeleteOptions",
                "",
                vec![crate::error::Cause::not_supported(
                    "propagationPolicy",
                    other,
                    &["Foreground", "Background", "Orphan"],
                )],
            ));
        }
    };
    let grace_period = params
        .get("gracePeriodSeconds")
        .and_then(|v| v.parse().ok())
        .or_else(|| body.get("gracePeriodSeconds").and_then(Value::as_i64));
    let dry_run = params.get("dryRun") == Some("All")
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        propagation,
        grace_period,
        precondition_rv: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run,
    })
}

/// Chooses the representation of a response from the `Accept` header: the first alternative
/// this server can produce (JSON objects, a `meta.k8s.io` Table, or PartialObjectMetadata),
/// or a 406 when none is.
pub fn negotiate(headers: &HeaderMap) -> ApiResult<Representation> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Representation::Object);
    };
    for alt in accept.split(',') {
        let mut parts = alt.split(';').map(str::trim);
        let base = parts.next().unwrap_or_default();
        if !matches!(base, "application/json" | "*/*" | "application/*" | "") {
            continue;
        }
        let (mut as_, mut g, mut v) = ("", "", "");
        for p in parts {
            match p.split_once('=') {
                Some(("as", x)) => as_ = x,
                Some(("g", x)) => g = x,
                Some(("v", x)) => v = x,
                _ => {}
            }
        }
        let version = match v {
            "v1" => "v1",
            "v1beta1" => "v1beta1",
            _ => "",
        };
        match (as_, g) {
            ("", _) => return Ok(Representation::Object),
            ("Table", "meta.k8s.io") if !version.is_empty() => {
                return Ok(Representation::Table(version));
            }
            ("PartialObjectMetadata" | "PartialObjectMetadataList", "meta.k8s.io")
                if !version.is_empty() =>
            {
                return Ok(Representation::Metadata(version));
            }
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(accept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> ApiResult<Representation> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.parse().expect("header"));
        negotiate(&h)
    }

    #[test]
    fn kubectl_get_asks_for_a_table() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(accept(kubectl).ok(), Some(Representation::Table("v1")));
        assert_eq!(
            accept("application/json;as=Table;v=v1beta1;g=meta.k8s.io").ok(),
            Some(Representation::Table("v1beta1"))
        );
        assert_eq!(
            accept("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").ok(),
            Some(Representation::Metadata("v1"))
        );
        assert_eq!(
            accept("application/vnd.kubernetes.protobuf, */*").ok(),
            Some(Representation::Object)
        );
        let err = accept("application/json;as=Table;v=v2;g=meta.k8s.io").err();
        assert_eq!(err.map(|e| e.code), Some(406));
        assert_eq!(accept("application/yaml").err().map(|e| e.code), Some(406));
    }
}
