//! The builder images odo knows (nodejs, java, python): their version tags, image references,
//! default ports and s2i labels, how a component type such as `nodejs:14` resolves to one, and the
//! `ODO_S2I_*` values derived from the labels.
//!
//! odo reads these from ImageStreams in the `openshift` namespace; odo-rs carries them as data so
//! the same component types work on plain Kubernetes and on the simulator, whose image catalogue
//! uses the same references.

use crate::config::validate::{PortSpec, Protocol};

/// Namespace the builder images are listed under (odo's default).
pub const CATALOG_NAMESPACE: &str = "openshift";
/// odo's init image (supervisord, go-init and the s2i helper scripts).
pub const INIT_IMAGE: &str =
    "registry.access.redhat.com/ocp-tools-4/odo-init-container-rhel8:1.1.5";
/// Env var overriding the init image (as in odo).
pub const INIT_IMAGE_ENV: &str = "ODO_BOOTSTRAPPER_IMAGE";

const S2I_SCRIPTS_URL: &str = "io.openshift.s2i.scripts-url";
const S2I_DESTINATION: &str = "io.openshift.s2i.destination";
const DEPLOYMENT_DIR_LABELS: &[&str] = &[
    "com.redhat.deployments-dir",
    "org.jboss.deployments-dir",
    "org.jboss.container.deployments-dir",
];

/// One builder image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderImage {
    /// Component type name (`nodejs`).
    pub name: &'static str,
    /// Version tags, newest first; every tag resolves to `image`.
    pub tags: &'static [&'static str],
    /// The image reference put into pods.
    pub image: &'static str,
    /// Ports the image exposes (used when the component sets none).
    pub ports: &'static [(u16, Protocol)],
    /// The image's working directory.
    pub working_dir: &'static str,
    /// Image labels odo reads.
    pub labels: &'static [(&'static str, &'static str)],
    /// One-line description.
    pub description: &'static str,
}

impl BuilderImage {
    /// Value of an image label.
    pub fn label(&self, key: &str) -> Option<&'static str> {
        self.labels.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Default ports as port specs.
    pub fn port_specs(&self) -> Vec<PortSpec> {
        self.ports
            .iter()
            .map(|&(port, protocol)| PortSpec { port, protocol })
            .collect()
    }
}

/// The builder images, sorted by name. Labels, ports and working directories are those of the
/// real images (and of the simulator's image catalogue in `fixtures/images/`).
pub const BUILDERS: &[BuilderImage] = &[
    BuilderImage {
        name: "java",
        tags: &["11", "latest"],
        image: "registry.access.redhat.com/ubi8/openjdk-11:latest",
        ports: &[(8080, Protocol::Tcp), (8443, Protocol::Tcp)],
        working_dir: "/opt/app-root/src",
        labels: &[
            ("name", "ubi8/openjdk-11"),
            (S2I_SCRIPTS_URL, "image:///usr/libexec/s2i"),
            (S2I_DESTINATION, "/tmp"),
            ("io.openshift.expose-services", "8080:http"),
            ("org.jboss.deployments-dir", "/deployments"),
            ("com.redhat.deployments-dir", "/deployments"),
            ("io.openshift.tags", "builder,java"),
        ],
        description: "Build and run Java applications (OpenJDK 11, Maven)",
    },
    BuilderImage {
        name: "nodejs",
        tags: &["14", "latest"],
        image: "registry.access.redhat.com/ubi8/nodejs-14:latest",
        ports: &[(8080, Protocol::Tcp)],
        working_dir: "/opt/app-root/src",
        labels: &[
            ("name", "ubi8/nodejs-14"),
            (S2I_SCRIPTS_URL, "image:///usr/libexec/s2i"),
            (S2I_DESTINATION, "/tmp"),
            ("io.openshift.expose-services", "8080:http"),
            ("io.openshift.tags", "builder,nodejs,nodejs14"),
            ("com.redhat.deployments-dir", "/opt/app-root/src"),
        ],
        description: "Build and run Node.js 14 applications",
    },
    BuilderImage {
        name: "python",
        tags: &["3.8", "latest"],
        image: "registry.access.redhat.com/ubi8/python-38:latest",
        ports: &[(8080, Protocol::Tcp)],
        working_dir: "/opt/app-root/src",
        labels: &[
            ("name", "ubi8/python-38"),
            (S2I_SCRIPTS_URL, "image:///usr/libexec/s2i"),
            (S2I_DESTINATION, "/tmp"),
            ("io.openshift.expose-services", "8080:http"),
            ("io.openshift.tags", "builder,python,python38"),
            ("com.redhat.deployments-dir", "/opt/app-root/src"),
        ],
        description: "Build and run Python 3.8 applications",
    },
];

/// Errors resolving a component type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// No builder image has this name.
    #[error("unknown component type {given:?}")]
    UnknownType {
        /// What the user asked for.
        given: String,
    },
    /// The image exists but not with this tag.
    #[error("component type {name:?} has no version {tag:?}")]
    UnknownTag {
        /// Image name.
        name: String,
        /// The tag asked for.
        tag: String,
        /// Tags that exist.
        known: Vec<String>,
    },
    /// The image's s2i scripts URL has a protocol odo cannot use.
    #[error("unknown scripts url {0:?} in the builder image labels")]
    UnknownScriptsUrl(String),
}

impl CatalogError {
    /// A hint naming what is available.
    pub fn hint(&self) -> String {
        match self {
            CatalogError::UnknownType { .. } => format!(
                "known component types: {} (see `odo catalog list components`)",
                BUILDERS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
            ),
            CatalogError::UnknownTag { name, known, .. } => {
                format!("use one of {name}:{}", known.join(format!(", {name}:").as_str()))
            }
            CatalogError::UnknownScriptsUrl(_) => {
                "the label io.openshift.s2i.scripts-url must start with image://, file:// or http(s)://".into()
            }
        }
    }
}

/// A component type resolved to a builder image and a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedType {
    /// The builder image.
    pub builder: &'static BuilderImage,
    /// The tag (`latest` when none was given).
    pub tag: String,
}

/// Resolves `nodejs`, `nodejs:14` or `openshift/nodejs:14`.
pub fn resolve(component_type: &str) -> Result<ResolvedType, CatalogError> {
    let unknown = || CatalogError::UnknownType {
        given: component_type.to_string(),
    };
    let without_ns = match component_type.split_once('/') {
        Some((ns, rest)) if ns == CATALOG_NAMESPACE => rest,
        Some(_) => return Err(unknown()),
        None => component_type,
    };
    let (name, tag) = match without_ns.split_once(':') {
        Some((n, t)) => (n, t),
        None => (without_ns, "latest"),
    };
    let builder = BUILDERS
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(unknown)?;
    if !builder.tags.contains(&tag) {
        return Err(CatalogError::UnknownTag {
            name: name.to_string(),
            tag: tag.to_string(),
            known: builder.tags.iter().map(|t| t.to_string()).collect(),
        });
    }
    Ok(ResolvedType {
        builder,
        tag: tag.to_string(),
    })
}

/// The `ODO_S2I_*` values odo derives from a builder image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S2iPaths {
    /// Scripts location without its protocol prefix.
    pub scripts_url: String,
    /// `image://`, `file://`, `http://` or `https://`.
    pub scripts_protocol: String,
    /// Where sources are copied (`io.openshift.s2i.destination`, default `/tmp`).
    pub src_bin_path: String,
    /// Deployments directory (Java images).
    pub deployment_dir: Option<String>,
    /// The image's working directory.
    pub working_dir: String,
    /// The image `name` label.
    pub builder_img: Option<String>,
}

impl S2iPaths {
    /// Directory the sources are synced into: `<src_bin_path>/src`.
    pub fn sync_target(&self) -> String {
        format!("{}/src", self.src_bin_path.trim_end_matches('/'))
    }
}

/// Reads the s2i paths from the image labels, as odo's `GetS2IMetaInfoFromBuilderImg` does.
pub fn s2i_paths(builder: &BuilderImage) -> Result<S2iPaths, CatalogError> {
    let url = builder
        .label(S2I_SCRIPTS_URL)
        .unwrap_or("image:///usr/libexec/s2i");
    let (protocol, rest) = ["image://", "file://", "http://", "https://"]
        .iter()
        .find_map(|p| url.strip_prefix(p).map(|rest| (*p, rest)))
        .ok_or_else(|| CatalogError::UnknownScriptsUrl(url.to_string()))?;
    let scripts_url = if protocol.starts_with("http") {
        url.to_string()
    } else {
        rest.to_string()
    };
    Ok(S2iPaths {
        scripts_url,
        scripts_protocol: protocol.to_string(),
        src_bin_path: builder.label(S2I_DESTINATION).unwrap_or("/tmp").to_string(),
        deployment_dir: DEPLOYMENT_DIR_LABELS
            .iter()
            .find_map(|l| builder.label(l))
            .map(str::to_string),
        working_dir: builder.working_dir.to_string(),
        builder_img: builder.label("name").map(str::to_string),
    })
}

/// The init image: `$ODO_BOOTSTRAPPER_IMAGE` or odo's default.
pub fn init_image() -> String {
    std::env::var(INIT_IMAGE_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| INIT_IMAGE.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_tags_and_namespace() {
        let r = resolve("nodejs").unwrap();
        assert_eq!((r.builder.name, r.tag.as_str()), ("nodejs", "latest"));
        let r = resolve("openshift/java:11").unwrap();
        assert_eq!(
            r.builder.image,
            "registry.access.redhat.com/ubi8/openjdk-11:latest"
        );
        assert_eq!(r.tag, "11");
        assert!(matches!(
            resolve("ruby"),
            Err(CatalogError::UnknownType { .. })
        ));
        assert!(matches!(
            resolve("other/nodejs"),
            Err(CatalogError::UnknownType { .. })
        ));
        let err = resolve("python:2.7").unwrap_err();
        assert_eq!(err.hint(), "use one of python:3.8, python:latest");
        assert!(
            CatalogError::UnknownType { given: "x".into() }
                .hint()
                .contains("java, nodejs, python")
        );
    }

    #[test]
    fn s2i_paths_from_labels() {
        let java = s2i_paths(resolve("java").unwrap().builder).unwrap();
        assert_eq!(java.scripts_url, "/usr/libexec/s2i");
        assert_eq!(java.scripts_protocol, "image://");
        assert_eq!(java.deployment_dir.as_deref(), Some("/deployments"));
        assert_eq!(java.sync_target(), "/tmp/src");
        let node = s2i_paths(resolve("nodejs").unwrap().builder).unwrap();
        assert_eq!(node.deployment_dir.as_deref(), Some("/opt/app-root/src"));
        assert_eq!(node.builder_img.as_deref(), Some("ubi8/nodejs-14"));
    }

    #[test]
    fn bad_scripts_url() {
        let mut b = BUILDERS[0].clone();
        b.labels = &[(S2I_SCRIPTS_URL, "ftp://x")];
        assert!(matches!(
            s2i_paths(&b),
            Err(CatalogError::UnknownScriptsUrl(_))
        ));
        b.labels = &[(S2I_SCRIPTS_URL, "https://example.com/s2i")];
        let p = s2i_paths(&b).unwrap();
        assert_eq!(
            (p.scripts_url.as_str(), p.scripts_protocol.as_str()),
            ("https://example.com/s2i", "https://")
        );
    }

    #[test]
    fn builders_are_sorted_and_have_ports() {
        let names: Vec<_> = BUILDERS.iter().map(|b| b.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(
            BUILDERS
                .iter()
                .all(|b| !b.ports.is_empty() && b.tags.contains(&"latest"))
        );
    }
}
