//! Which container instance a streaming request means, decided from the stored pod the way
//! the API server (container choice) and the kubelet (instance from the container status)
//! decide it, and how runtime failures become `Status` errors.

use serde_json::Value;

use crate::error::ApiError;
use crate::kubelet::ContainerId;
use crate::kubelet::streams::StreamError;

/// The annotation kubectl reads to pick a container when `-c` is not given.
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// What a request wants from the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `pods/log`, current instance (or the last terminated one while waiting to restart).
    Log,
    /// `pods/log?previous=true`: the instance before the current one.
    PreviousLog,
    /// `pods/exec` and `pods/attach`: the running instance.
    Session,
}

fn names(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Picks the container name: the `container` parameter, else the default-container
/// annotation, else the only container; errors worded as the API server words them.
pub fn container_name(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let spec = pod.get("spec");
    let app = names(spec.and_then(|s| s.get("containers")));
    let init = names(spec.and_then(|s| s.get("initContainers")));
    let ephemeral = names(spec.and_then(|s| s.get("ephemeralContainers")));
    if let Some(c) = requested.filter(|c| !c.is_empty()) {
        if app.iter().chain(&init).chain(&ephemeral).any(|n| n == c) {
            return Ok(c.to_string());
        }
        return Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {pod_name}"
        )));
    }
    if let Some(c) = pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DEFAULT_CONTAINER_ANNOTATION))
        .and_then(Value::as_str)
        .filter(|c| app.iter().any(|n| n == c))
    {
        return Ok(c.to_string());
    }
    match app.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {pod_name}"
        ))),
        many => {
            let mut msg = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                many.join(" ")
            );
            if !init.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            if !ephemeral.is_empty() {
                msg.push_str(&format!(
                    " or one of the ephemeral containers: [{}]",
                    ephemeral.join(" ")
                ));
            }
            Err(ApiError::bad_request(msg))
        }
    }
}

/// The status entry of `container` and whether it is an init container.
fn container_status<'a>(pod: &'a Value, container: &str) -> Option<(&'a Value, bool)> {
    let find = |field: &str| {
        pod.pointer(&format!("/status/{field}"))
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
            })
    };
    find("containerStatuses")
        .map(|s| (s, false))
        .or_else(|| find("initContainerStatuses").map(|s| (s, true)))
        .or_else(|| find("ephemeralContainerStatuses").map(|s| (s, false)))
}

fn is_init(pod: &Value, container: &str) -> bool {
    names(pod.pointer("/spec/initContainers"))
        .iter()
        .any(|n| n == container)
}

/// Resolves the container instance a request addresses.
///
/// The instance is found by matching the `containerID` of the relevant state against the
/// runtime IDs of the instances the restart count allows; a status without IDs falls back
/// to `restartCount` (minus one for the previous instance).
pub fn instance(pod: &Value, container: &str, purpose: Purpose) -> Result<ContainerId, ApiError> {
    let meta = |p: &str| {
        pod.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let pod_name = meta("/metadata/name");
    let node = meta("/spec/nodeName");
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {pod_name} does not have a host assigned"
        )));
    }
    let status = container_status(pod, container);
    let init = status.map_or_else(|| is_init(pod, container), |(_, init)| init);
    let mut id = ContainerId {
        namespace: meta("/metadata/namespace"),
        pod: pod_name.clone(),
        pod_uid: meta("/metadata/uid"),
        container: container.to_string(),
        instance: 0,
        init,
    };
    let waiting = || {
        let reason = status
            .and_then(|(s, _)| s.pointer("/state/waiting/reason"))
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating");
        let why = match reason {
            "ErrImagePull" => "image can't be pulled".to_string(),
            "ImagePullBackOff" => "trying and failing to pull image".to_string(),
            other => other.to_string(),
        };
        ApiError::bad_request(format!(
            "container {container:?} in pod {pod_name:?} is waiting to start: {why}"
        ))
    };
    let Some((status, _)) = status else {
        return Err(match purpose {
            Purpose::Session => not_running(container),
            _ => waiting(),
        });
    };
    let restarts = status
        .get("restartCount")
        .and_then(Value::as_u64)
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(0);
    let id_at = |p: &str| {
        status
            .pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (runtime_id, fallback) = match purpose {
        Purpose::PreviousLog => match id_at("/lastState/terminated/containerID") {
            Some(rid) => (rid, restarts.saturating_sub(1)),
            None => {
                return Err(ApiError::bad_request(format!(
                    "previous terminated container {container:?} in pod {pod_name:?} not found"
                )));
            }
        },
        Purpose::Session => {
            if status.pointer("/state/running").is_none() {
                return Err(not_running(container));
            }
            match id_at("/containerID") {
                Some(rid) => (rid, restarts),
                None => return Err(not_running(container)),
            }
        }
        Purpose::Log => {
            if let Some(rid) = id_at("/state/terminated/containerID")
                .or_else(|| status.pointer("/state/running").and(id_at("/containerID")))
            {
                (rid, restarts)
            } else if let Some(rid) = id_at("/lastState/terminated/containerID") {
                (rid, restarts.saturating_sub(1))
            } else {
                return Err(waiting());
            }
        }
    };
    id.instance = (0..=restarts.saturating_add(1))
        .rev()
        .find(|i| {
            let probe = ContainerId {
                instance: *i,
                ..id.clone()
            };
            probe.runtime_id() == runtime_id
        })
        .unwrap_or(fallback);
    Ok(id)
}

fn not_running(container: &str) -> ApiError {
    ApiError::bad_request(format!("container not found ({container:?})"))
}

/// The `Status` error for a runtime failure: `NotFound` is 404, everything else 400, as the
/// API server relays the kubelet's answers.
pub fn stream_error(err: &StreamError) -> ApiError {
    match err {
        StreamError::NotFound(m) => {
            let mut e = ApiError::bad_request(m.clone());
            e.code = 404;
            e.reason = "NotFound".into();
            e
        }
        StreamError::NotRunning(m) | StreamError::PortClosed(m) | StreamError::Unsupported(m) => {
            ApiError::bad_request(m.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(annotations: Value) -> Value {
        json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "annotations": annotations},
            "spec": {"nodeName": "node-0", "containers": [{"name": "a"}, {"name": "b"}], "initContainers": [{"name": "i"}]},
        })
    }

    #[test]
    fn container_choice_follows_the_api_server() {
        let p = pod(json!({}));
        assert_eq!(
            container_name(&p, None).unwrap_err().message,
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"
        );
        assert_eq!(
            container_name(&p, Some("c")).unwrap_err().message,
            "container c is not valid for pod p"
        );
        assert_eq!(container_name(&p, Some("i")).unwrap(), "i");
        let p = pod(json!({DEFAULT_CONTAINER_ANNOTATION: "b"}));
        assert_eq!(container_name(&p, None).unwrap(), "b");
    }

    #[test]
    fn instance_comes_from_the_container_ids() {
        let mut p = pod(json!({}));
        let id = |i: u32| {
            ContainerId {
                namespace: "ns".into(),
                pod: "p".into(),
                pod_uid: "u1".into(),
                container: "a".into(),
                instance: i,
                init: false,
            }
            .runtime_id()
        };
        p["status"] = json!({"containerStatuses": [{
            "name": "a", "restartCount": 2, "containerID": id(2),
            "state": {"running": {}},
            "lastState": {"terminated": {"containerID": id(1)}},
        }]});
        assert_eq!(instance(&p, "a", Purpose::Log).unwrap().instance, 2);
        assert_eq!(instance(&p, "a", Purpose::Session).unwrap().instance, 2);
        assert_eq!(instance(&p, "a", Purpose::PreviousLog).unwrap().instance, 1);
        p["status"]["containerStatuses"][0]["state"] =
            json!({"waiting": {"reason": "CrashLoopBackOff"}});
        assert_eq!(instance(&p, "a", Purpose::Log).unwrap().instance, 1);
        assert_eq!(
            instance(&p, "a", Purpose::Session).unwrap_err().message,
            "container not found (\"a\")"
        );
        let err = instance(&p, "b", Purpose::Log).unwrap_err();
        assert_eq!(
            err.message,
            "container \"b\" in pod \"p\" is waiting to start: ContainerCreating"
        );
        p["spec"]["nodeName"] = json!("");
        assert_eq!(
            instance(&p, "a", Purpose::Log).unwrap_err().message,
            "pod p does not have a host assigned"
        );
    }
}
