//! The self-signed certificate behind a secure Ingress url created without `--tls-secret`.
//!
//! odo creates the Secret `<component>-<app>-tlssecret` (type `kubernetes.io/tls`) the first
//! time such a url is pushed and keeps using it afterwards, so a user who replaces it with a
//! real certificate keeps theirs. It is not part of the rendered manifests (a fresh key pair
//! on every render would make pushes non-idempotent); instead it is owned by the Ingress
//! through an ownerReference, so Kubernetes' garbage collector removes it together with the
//! url, whether the url is deleted by `odo url delete` + push or by `odo delete`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};

use super::{ClusterError, Connection};
use crate::manifests::meta;

/// A PEM certificate and its PEM private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSigned {
    /// `tls.crt`.
    pub cert_pem: String,
    /// `tls.key`.
    pub key_pem: String,
}

/// Generates a self-signed certificate valid for `host`.
pub fn self_signed(host: &str) -> Result<SelfSigned, rcgen::Error> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec![host.to_string()])?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: signing_key.serialize_pem(),
    })
}

/// The Secret object holding `pair`, owned by `owner`.
pub fn secret_for(name: &str, pair: &SelfSigned, owner: &Ingress) -> Secret {
    let mut labels: BTreeMap<String, String> = owner.metadata.labels.clone().unwrap_or_default();
    // Not managed-by odo: odo's pruning must leave it to the garbage collector.
    labels.remove(meta::MANAGED_BY);
    let owner_ref = OwnerReference {
        api_version: "networking.k8s.io/v1".into(),
        kind: "Ingress".into(),
        name: owner.metadata.name.clone().unwrap_or_default(),
        uid: owner.metadata.uid.clone().unwrap_or_default(),
        ..OwnerReference::default()
    };
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            owner_references: Some(vec![owner_ref]),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            (
                "tls.crt".to_string(),
                ByteString(pair.cert_pem.clone().into_bytes()),
            ),
            (
                "tls.key".to_string(),
                ByteString(pair.key_pem.clone().into_bytes()),
            ),
        ])),
        ..Secret::default()
    }
}

/// Makes sure Secret `name` exists for the Ingress `ingress`: creates a self-signed one for
/// `host` when it is missing. Returns whether it was created.
pub async fn ensure_self_signed(
    conn: &Connection,
    name: &str,
    ingress: &str,
    host: &str,
) -> Result<bool, ClusterError> {
    let secrets: Api<Secret> = Api::namespaced(conn.client.clone(), &conn.namespace);
    if secrets
        .get_opt(name)
        .await
        .map_err(|e| ClusterError::api(format!("cannot read secret {name}"), e))?
        .is_some()
    {
        return Ok(false);
    }
    let ingresses: Api<Ingress> = Api::namespaced(conn.client.clone(), &conn.namespace);
    let owner = ingresses
        .get(ingress)
        .await
        .map_err(|e| ClusterError::api(format!("cannot read ingress {ingress}"), e))?;
    let pair = self_signed(host).map_err(|e| ClusterError::Certificate {
        host: host.to_string(),
        message: e.to_string(),
    })?;
    match secrets
        .create(&PostParams::default(), &secret_for(name, &pair, &owner))
        .await
    {
        Ok(_) => Ok(true),
        // Another push created it in the meantime: use that one.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(ClusterError::api(format!("cannot create secret {name}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_is_pem_for_the_host() {
        let pair = self_signed("web.example.com").unwrap();
        assert!(pair.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(pair.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let other = self_signed("web.example.com").unwrap();
        assert_ne!(pair.key_pem, other.key_pem, "every secret gets its own key");
    }

    #[test]
    fn secret_is_owned_by_the_ingress_and_not_pruned_by_odo() {
        let owner = Ingress {
            metadata: ObjectMeta {
                name: Some("web-app".into()),
                uid: Some("u-1".into()),
                labels: Some(BTreeMap::from([
                    (meta::MANAGED_BY.to_string(), meta::MANAGER.to_string()),
                    ("app".to_string(), "app".to_string()),
                ])),
                ..ObjectMeta::default()
            },
            ..Ingress::default()
        };
        let pair = SelfSigned {
            cert_pem: "c".into(),
            key_pem: "k".into(),
        };
        let s = secret_for("nodejs-app-tlssecret", &pair, &owner);
        assert_eq!(s.type_.as_deref(), Some("kubernetes.io/tls"));
        let refs = s.metadata.owner_references.unwrap();
        assert_eq!(
            (refs[0].kind.as_str(), refs[0].uid.as_str()),
            ("Ingress", "u-1")
        );
        let labels = s.metadata.labels.unwrap();
        assert!(!labels.contains_key(meta::MANAGED_BY));
        assert_eq!(labels.get("app").map(String::as_str), Some("app"));
        let data = s.data.unwrap();
        assert_eq!(data["tls.crt"].0, b"c");
        assert_eq!(data["tls.key"].0, b"k");
    }
}
