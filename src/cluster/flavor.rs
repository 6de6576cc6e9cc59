//! Flavor detection: a server that serves `apps.openshift.io` (DeploymentConfigs) and
//! `route.openshift.io` gets the openshift flavor, any other the kubernetes flavor.

use crate::manifests::Flavor;

/// Decides the flavor from the API group names the server's discovery lists.
pub fn flavor_from_groups<S: AsRef<str>>(groups: &[S]) -> Flavor {
    let has = |g: &str| groups.iter().any(|x| x.as_ref() == g);
    if has("apps.openshift.io") && has("route.openshift.io") {
        Flavor::OpenShift
    } else {
        Flavor::Kubernetes
    }
}

/// Asks the server for its API groups and decides the flavor.
pub async fn detect(client: &kube::Client) -> Result<Flavor, kube::Error> {
    let groups = client.list_api_groups().await?;
    let names: Vec<String> = groups.groups.into_iter().map(|g| g.name).collect();
    Ok(flavor_from_groups(&names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_from_groups() {
        assert_eq!(
            flavor_from_groups(&["apps", "networking.k8s.io"]),
            Flavor::Kubernetes
        );
        assert_eq!(
            flavor_from_groups(&[
                "apps",
                "apps.openshift.io",
                "route.openshift.io",
                "image.openshift.io"
            ]),
            Flavor::OpenShift
        );
        // DeploymentConfigs without Routes cannot run the openshift flavor.
        assert_eq!(
            flavor_from_groups(&["apps.openshift.io"]),
            Flavor::Kubernetes
        );
        assert_eq!(flavor_from_groups::<&str>(&[]), Flavor::Kubernetes);
    }
}
