//! Builds JSON objects from values the simulator already holds.
//!
//! `serde_json::json!` turns every non-literal it is given into a `Value` by serializing it:
//! a `Value` or `Map` passed in is copied node by node through the serializer, and the
//! original is dropped. The kubelet builds every pod status from such parts (conditions,
//! container statuses), so on the hot paths objects are put together with [`object`]
//! instead, which moves the parts in.

use serde_json::{Map, Value};

/// A JSON object of these fields, in this order, sized exactly.
pub(crate) fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let mut m = Map::with_capacity(N);
    for (k, v) in fields {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_same_object_as_json_builds_in_the_same_order() {
        let inner = json!({"b": [1, {"c": null}], "a": "x"});
        let built = super::object([("z", inner.clone()), ("y", json!(2)), ("x", json!({}))]);
        let expected = json!({"z": inner, "y": 2, "x": {}});
        assert_eq!(built, expected);
        assert_eq!(
            serde_json::to_string(&built).ok(),
            serde_json::to_string(&expected).ok(),
            "field order is kept"
        );
    }
}
