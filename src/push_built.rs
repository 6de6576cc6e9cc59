//! The part of `odo push` for components built by OpenShift (git and binary components on
//! the `openshift` flavor): after the configuration was applied, start a build, follow its log,
//! wait for it to finish and then for the pod running the built image: a git component's
//! rollout is started here (its ImageChange trigger is not automatic), a binary component's by
//! its automatic trigger.

use crate::cli::progress::Step;
use crate::cluster::{self, Connection, query, wait};
use crate::config::{Component, LocalConfigFile};
use crate::error::Result;
use crate::manifests;
use crate::push::{PushError, PushSummary};

/// The file of a binary component, read for upload: (file name, contents).
pub(crate) fn binary_upload(file: &LocalConfigFile, c: &Component) -> Result<(String, Vec<u8>)> {
    let path = file.context.join(&c.source_location);
    let data = std::fs::read(&path).map_err(|e| {
        crate::error::Error::user(
            format!(
                "cannot read binary {} of component {}: {e}",
                path.display(),
                c.name
            ),
            "check the component's SourceLocation (`odo config view`)",
        )
    })?;
    Ok((
        manifests::openshift::binary_file_name(&c.source_location),
        data,
    ))
}

/// The rest of a push of a git or binary component (OpenShift): start a build of its
/// BuildConfig (uploading the binary, if any), print the build's log as it runs, and once it
/// completed wait for the pod of the rollout of its image. A git component's rollout is
/// started here (its ImageChange trigger is not automatic, as in odo), a binary component's
/// by its automatic trigger. A build that does not complete rolls nothing out. Nothing is
/// synced.
pub(crate) async fn push_built(
    conn: &Connection,
    c: &Component,
    selector: &str,
    upload: Option<(String, Vec<u8>)>,
    push_timeout: std::time::Duration,
    first_push: bool,
) -> Result<PushSummary> {
    let object_name = c.object_name();
    // The pods running before this build: the rollout of its image replaces them.
    let before = query::pod_uids(conn, selector).await?;
    let step = Step::start("Building component");
    let started = match upload {
        Some((name, data)) => {
            cluster::build::instantiate_binary(conn, &object_name, &name, data).await
        }
        None => cluster::build::instantiate(conn, &object_name).await,
    };
    // An error ends the step as failed when `step` is dropped.
    let build = started?;
    step.note(&format!("started build {build}"));
    let mut notes = step.notifier();
    cluster::build::follow_log(conn, &build, &mut notes).await?;
    match cluster::build::wait_for_build(conn, &build, push_timeout).await? {
        cluster::build::BuildOutcome::Complete => step.success(),
        cluster::build::BuildOutcome::Failed {
            phase,
            reason,
            message,
        } => {
            step.fail();
            return Err(PushError::BuildFailed {
                component: c.name.clone(),
                build,
                phase,
                reason,
                message,
            }
            .into());
        }
    }
    let step = Step::start("Deploying component");
    // A git component: the pod of the version started here, not one of an older version.
    let selector = if manifests::openshift::rolls_out_itself(c) {
        let version = cluster::rollout::instantiate(conn, &object_name).await?;
        let deployment = cluster::rollout::deployment_name(&object_name, version);
        step.note(&format!("started deployment {deployment}"));
        format!("{selector},deployment={deployment}")
    } else {
        selector.to_string()
    };
    let mut notes = step.notifier();
    let pod = wait::wait_for_pod(
        conn,
        &selector,
        &object_name,
        push_timeout,
        before,
        &mut notes,
    )
    .await?;
    step.success();
    println!("Changes successfully pushed to component: {}", c.name);
    Ok(PushSummary {
        created: first_push,
        pod: Some(pod.name),
        sync: None,
    })
}
