//! Image references and ImageStream status as OpenShift shows them: the simulated content
//! digest of an upstream image, `name@sha256:...` references, the internal registry's
//! repository of a stream, and reads of a stream's tag history (shared by the ImageStream
//! controller, the DeploymentConfig triggers and the `imagestreamtags` endpoints).
//!
//! The simulator has no registry contents: the digest of an upstream image is the SHA-256 of
//! its normalised reference (`docker.io/library/busybox:latest`), so the same tag always
//! imports the same image, and a different tag a different one.

use serde_json::{Value, json};

/// The internal registry's service address, as `status.dockerImageRepository` shows it.
pub const REGISTRY: &str = "image-registry.openshift-image-registry.svc:5000";

/// The simulated digest (`sha256:<hex>`) of an upstream image reference.
pub fn digest_of(reference: &str) -> String {
    crate::runtime::image::simulated_digest(reference)
}

/// The repository of a reference: without its `:tag` or `@digest`.
pub fn repository(reference: &str) -> &str {
    if let Some((repo, _)) = reference.split_once('@') {
        return repo;
    }
    let last_slash = reference.rfind('/').map(|i| i + 1).unwrap_or(0);
    match reference[last_slash..].rfind(':') {
        Some(i) => &reference[..last_slash + i],
        None => reference,
    }
}

/// `repo@sha256:...` for an image of `reference`'s repository.
pub fn by_digest(reference: &str, digest: &str) -> String {
    format!("{}@{digest}", repository(reference))
}

/// The internal registry repository of a stream: `<registry>/<namespace>/<name>`.
pub fn stream_repository(namespace: &str, name: &str) -> String {
    format!("{REGISTRY}/{namespace}/{name}")
}

/// The `status.tags` entry of `tag`.
pub fn status_tag<'a>(is: &'a Value, tag: &str) -> Option<&'a Value> {
    is.pointer("/status/tags")?
        .as_array()?
        .iter()
        .find(|t| t.get("tag").and_then(Value::as_str) == Some(tag))
}

/// The `spec.tags` entry of `tag`.
pub fn spec_tag<'a>(is: &'a Value, tag: &str) -> Option<&'a Value> {
    is.pointer("/spec/tags")?
        .as_array()?
        .iter()
        .find(|t| t.get("name").and_then(Value::as_str) == Some(tag))
}

/// The `spec.tags` entry of `tag`, added as `{"name": tag}` (and `spec.tags` created) when
/// missing; `None` only when `spec` is not an object.
pub fn spec_tag_mut<'a>(is: &'a mut Value, tag: &str) -> Option<&'a mut Value> {
    let spec = is
        .as_object_mut()?
        .entry("spec")
        .or_insert_with(|| json!({}));
    let tags = spec
        .as_object_mut()?
        .entry("tags")
        .or_insert_with(|| json!([]));
    if !tags.is_array() {
        *tags = json!([]);
    }
    let tags = tags.as_array_mut()?;
    let at = match tags
        .iter()
        .position(|t| t.get("name").and_then(Value::as_str) == Some(tag))
    {
        Some(i) => i,
        None => {
            tags.push(json!({"name": tag}));
            tags.len() - 1
        }
    };
    tags.get_mut(at)
}

/// The current image of a tag: the first item of its history.
pub fn head<'a>(is: &'a Value, tag: &str) -> Option<&'a Value> {
    status_tag(is, tag)?.get("items")?.as_array()?.first()
}

/// The `dockerImageReference` of a tag's current image.
pub fn head_reference(is: &Value, tag: &str) -> Option<String> {
    head(is, tag)?
        .get("dockerImageReference")?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A history item of any tag whose image is `digest` (for ImageStreamImage reads).
pub fn find_image<'a>(is: &'a Value, digest: &str) -> Option<&'a Value> {
    is.pointer("/status/tags")?
        .as_array()?
        .iter()
        .filter_map(|t| t.get("items").and_then(Value::as_array))
        .flatten()
        .find(|i| i.get("image").and_then(Value::as_str) == Some(digest))
}

/// The `image` object an ImageStreamTag or ImageStreamImage shows for a history item.
pub fn image_object(item: &Value) -> Value {
    let digest = item
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let reference = item
        .get("dockerImageReference")
        .and_then(Value::as_str)
        .unwrap_or_default();
    json!({
        "metadata": {
            "name": digest,
            "creationTimestamp": item.get("created").cloned().unwrap_or(Value::Null),
        },
        "dockerImageReference": reference,
        "dockerImageMetadata": {
            "kind": "DockerImage",
            "apiVersion": "image.openshift.io/1.0",
            "Id": digest,
            "Created": item.get("created").cloned().unwrap_or(Value::Null),
        },
        "dockerImageMetadataVersion": "1.0",
    })
}

/// Puts `item` at the head of `tag`'s history in a status (the previous head moves down);
/// an item for the image already at the head only refreshes its generation.
pub fn push_item(status: &mut Value, tag: &str, item: Value) {
    if !status.get("tags").is_some_and(Value::is_array) {
        status["tags"] = json!([]);
    }
    let Some(tags) = status.get_mut("tags").and_then(Value::as_array_mut) else {
        return;
    };
    let idx = match tags
        .iter()
        .position(|t| t.get("tag").and_then(Value::as_str) == Some(tag))
    {
        Some(i) => i,
        None => {
            tags.push(json!({"tag": tag, "items": []}));
            tags.len() - 1
        }
    };
    let entry = &mut tags[idx];
    if !entry.get("items").is_some_and(Value::is_array) {
        entry["items"] = json!([]);
    }
    let Some(items) = entry.get_mut("items").and_then(Value::as_array_mut) else {
        return;
    };
    let same = |a: &Value, b: &Value| {
        a.get("image") == b.get("image")
            && a.get("dockerImageReference") == b.get("dockerImageReference")
    };
    match items.first_mut() {
        Some(first) if same(first, &item) => {
            first["generation"] = item.get("generation").cloned().unwrap_or(json!(0));
        }
        _ => items.insert(0, item),
    }
    if let Some(c) = entry.as_object_mut() {
        c.remove("conditions");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_and_digests() {
        assert_eq!(
            repository("openshift/hello-openshift:latest"),
            "openshift/hello-openshift"
        );
        assert_eq!(repository("localhost:5000/a/b"), "localhost:5000/a/b");
        assert_eq!(repository("a/b@sha256:00"), "a/b");
        assert_eq!(
            digest_of("busybox"),
            digest_of("docker.io/library/busybox:latest")
        );
        assert_ne!(digest_of("busybox:1"), digest_of("busybox:2"));
        assert!(by_digest("busybox:1", "sha256:ab").starts_with("busybox@sha256:"));
    }

    #[test]
    fn push_keeps_history_newest_first() {
        let mut st = json!({});
        push_item(
            &mut st,
            "latest",
            json!({"image": "sha256:a", "dockerImageReference": "x@sha256:a", "generation": 1}),
        );
        push_item(
            &mut st,
            "latest",
            json!({"image": "sha256:b", "dockerImageReference": "x@sha256:b", "generation": 2}),
        );
        push_item(
            &mut st,
            "latest",
            json!({"image": "sha256:b", "dockerImageReference": "x@sha256:b", "generation": 3}),
        );
        let items = st["tags"][0]["items"]
            .as_array()
            .expect("test data has this shape");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["image"], "sha256:b");
        assert_eq!(items[0]["generation"], 3);
        assert_eq!(items[1]["image"], "sha256:a");
    }
}
