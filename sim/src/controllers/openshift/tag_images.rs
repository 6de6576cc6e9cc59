//! `tagImages` lifecycle hooks of a DeploymentConfig strategy: the deployer tags the image a
//! container of the new version runs into an ImageStreamTag (`to`, in the DeploymentConfig's
//! namespace unless `to.namespace` says otherwise), creating the stream when missing, as
//! `oc tag --source=docker <image> <stream>:<tag>` does. The ImageStream controller then
//! imports the tag like any other.
//!
//! Admission has already checked that every entry names a container of the template and an
//! ImageStreamTag `<stream>:<tag>`; what can still fail here is the write itself.
//!
//! The hook runs on every reconcile of its stage until the stage is passed, so a tag that
//! already points at the image is left untouched (no write, no new generation).

use serde_json::{Value, json};

use crate::cluster::World;
use crate::store::{Part, WriteOptions, meta};

/// Why one `tagImages` entry could not be carried out (the hook's `failurePolicy` decides
/// what follows).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TagError(pub String);

/// One image a `tagImages` entry put into its target (what the deployer's log reports).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Tagged {
    /// The image of the container.
    pub image: String,
    /// `to.namespace` as the hook gives it (empty for the DeploymentConfig's namespace).
    pub to_namespace: String,
    /// `to.name`, `<stream>:<tag>`.
    pub to_name: String,
}

/// Carries out every entry of `tags` for the version `rc`, in order, until one fails; the
/// entries carried out are pushed to `tagged`.
pub(super) fn run(
    w: &mut World<'_>,
    dc: &Value,
    rc: &Value,
    tags: &[Value],
    tagged: &mut Vec<Tagged>,
) -> Result<(), TagError> {
    for t in tags {
        let cname = t
            .get("containerName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let image = rc
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(cname))
            .and_then(|c| c.get("image").and_then(Value::as_str))
            .ok_or_else(|| {
                TagError(format!(
                    "unable to find container {cname:?} in the deployment template"
                ))
            })?;
        let to = t.get("to").unwrap_or(&Value::Null);
        let name = to.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some((stream, tag)) = name
            .split_once(':')
            .filter(|(s, t)| !s.is_empty() && !t.is_empty())
        else {
            return Err(TagError(format!(
                "tagImages target {name:?} is not <stream>:<tag>"
            )));
        };
        let given = to
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ns = Some(given)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| meta::namespace(dc));
        set_tag(w, ns, stream, tag, image)?;
        tagged.push(Tagged {
            image: image.to_string(),
            to_namespace: given.to_string(),
            to_name: name.to_string(),
        });
    }
    Ok(())
}

fn set_tag(
    w: &mut World<'_>,
    ns: &str,
    stream: &str,
    tag: &str,
    image: &str,
) -> Result<(), TagError> {
    let Some(is_tid) = w.kinds.openshift.is else {
        return Err(TagError("image streams are not served".into()));
    };
    let wanted = json!({"name": tag, "from": {"kind": "DockerImage", "name": image}});
    let failed = |e: crate::error::ApiError| {
        TagError(format!(
            "tagging {image} into {stream}:{tag}: {}",
            e.message
        ))
    };
    let Ok(is) = w.store.get(is_tid, ns, stream) else {
        let body = json!({"apiVersion": "image.openshift.io/v1", "kind": "ImageStream",
            "metadata": {"name": stream, "namespace": ns}, "spec": {"tags": [wanted]}});
        return w
            .store
            .create(is_tid, ns, body, &WriteOptions::default())
            .map(drop)
            .map_err(failed);
    };
    let current = super::images::spec_tag(&is, tag);
    if current.and_then(|c| c.get("from")) == wanted.get("from") {
        return Ok(());
    }
    let mut obj = (*is).clone();
    // Only `from` changes: the tag's other settings (importPolicy, referencePolicy) stay.
    if let Some(t) = super::images::spec_tag_mut(&mut obj, tag) {
        t["from"] = wanted["from"].clone();
    }
    w.store
        .update(
            is_tid,
            ns,
            stream,
            obj,
            Part::Main,
            &WriteOptions::default(),
        )
        .map(drop)
        .map_err(failed)
}
