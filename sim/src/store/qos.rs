//! A Pod's resources at admission: requests defaulted from limits (the v1 Pod defaulting,
//! not applied to pod templates) and `status.qosClass` as the API server computes it at
//! creation (`ComputePodQOS` over the containers and init containers).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::runtime::resources::Quantity;

/// The resources the QoS class looks at.
const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// For every container and init container with `resources.limits`, each limit whose
/// resource has no request becomes the request.
pub(super) fn default_requests_from_limits(spec: &mut Value) {
    let Some(m) = spec.as_object_mut() else {
        return;
    };
    let lists = m
        .iter_mut()
        .filter(|(name, _)| *name == "containers" || *name == "initContainers")
        .filter_map(|(_, list)| list.as_array_mut());
    for c in lists.flatten() {
        let Some(resources) = c.get_mut("resources").and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
            continue;
        };
        let requests = resources
            .entry("requests")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(requests) = requests.as_object_mut() {
            for (k, v) in limits {
                requests.entry(k).or_insert(v);
            }
        }
    }
}

fn quantity(v: &Value) -> ApiResult<Quantity> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    Quantity::parse(&text).map_err(|e| {
        ApiError::bad_request(format!(
            "Pod in version \"v1\" cannot be handled as a Pod: {e}"
        ))
    })
}

/// Adds the positive cpu/memory amounts of `list` (a container's `requests` or `limits`)
/// into `sums`; returns which of those resources had a positive amount.
fn add_positive(
    list: Option<&Value>,
    sums: &mut BTreeMap<&'static str, Quantity>,
) -> ApiResult<Vec<&'static str>> {
    let mut found = Vec::new();
    for name in QOS_RESOURCES {
        let Some(v) = list.and_then(|l| l.get(name)) else {
            continue;
        };
        let q = quantity(v)?;
        if !q.is_positive() {
            continue;
        }
        found.push(name);
        let sum = match sums.get(name) {
            Some(prev) => prev
                .checked_add(q)
                .ok_or_else(|| ApiError::bad_request(format!("{name} quantity is too large")))?,
            None => q,
        };
        sums.insert(name, sum);
    }
    Ok(found)
}

/// The QoS class of a pod spec (after defaulting): BestEffort without any cpu/memory request
/// or limit; Guaranteed when every container limits both cpu and memory and the summed
/// requests equal the summed limits; Burstable otherwise. A quantity that does not parse is
/// a 400, as the real decoder answers it.
pub(super) fn qos_class(spec: &Value) -> ApiResult<&'static str> {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    let mut guaranteed = true;
    for list in ["containers", "initContainers"] {
        let Some(cs) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for c in cs {
            let resources = c.get("resources");
            add_positive(resources.and_then(|r| r.get("requests")), &mut requests)?;
            let limited = add_positive(resources.and_then(|r| r.get("limits")), &mut limits)?;
            if limited.len() != QOS_RESOURCES.len() {
                guaranteed = false;
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return Ok("BestEffort");
    }
    let equal = requests.len() == limits.len()
        && requests
            .iter()
            .all(|(name, req)| limits.get(name) == Some(req));
    Ok(if guaranteed && equal {
        "Guaranteed"
    } else {
        "Burstable"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn class(spec: Value) -> &'static str {
        let mut spec = spec;
        default_requests_from_limits(&mut spec);
        qos_class(&spec).expect("quantities parse")
    }

    #[test]
    fn classes_follow_the_api_server_rules() {
        assert_eq!(class(json!({"containers": [{"name": "a"}]})), "BestEffort");
        let both = json!({"limits": {"cpu": "500m", "memory": "128Mi"}});
        assert_eq!(
            class(json!({"containers": [{"resources": both}]})),
            "Guaranteed"
        );
        // Equal totals in other units are equal.
        assert_eq!(
            class(
                json!({"containers": [{"resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1024Mi"}}}]})
            ),
            "Guaranteed"
        );
        assert_eq!(
            class(json!({"containers": [{"resources": {"limits": {"cpu": "1"}}}]})),
            "Burstable"
        );
        // A container without limits in a pod makes it Burstable, init containers included.
        assert_eq!(
            class(json!({"containers": [{"resources": both}], "initContainers": [{"name": "i"}]})),
            "Burstable"
        );
        // Zero amounts count as unset.
        assert_eq!(
            class(json!({"containers": [{"resources": {"requests": {"cpu": "0"}}}]})),
            "BestEffort"
        );
        // Other resources do not count.
        assert_eq!(
            class(json!({"containers": [{"resources": {"limits": {"ephemeral-storage": "1Gi"}}}]})),
            "BestEffort"
        );
    }

    #[test]
    fn a_bad_quantity_is_a_bad_request() {
        let err = qos_class(&json!({"containers": [{"resources": {"limits": {"cpu": "lots"}}}]}))
            .expect_err("does not parse");
        assert_eq!(err.code, 400);
    }
}
