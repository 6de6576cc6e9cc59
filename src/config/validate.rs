//! Validation of user input that ends up in Kubernetes object names and fields: DNS-1123 labels,
//! the length limits that the `-<app>` and `-s2idata` suffixes impose, port and env syntax,
//! resource quantities. Every check returns a message that says what is wrong and what is allowed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest Kubernetes object name that must also be a DNS-1123 label (Service, label values).
pub const MAX_LABEL: usize = 63;
/// Suffix of the PVC that holds `/opt/app-root`.
pub const S2I_DATA_SUFFIX: &str = "-s2idata";

/// Why a value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct Invalid {
    /// What the value is (e.g. "component name").
    pub what: &'static str,
    /// The rejected value.
    pub value: String,
    /// Why it was rejected and what is allowed.
    pub reason: String,
}

fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        what,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Checks that `value` is a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.', each
/// dot-separated part starting and ending alphanumeric, at most 253 characters): what Secret
/// and ConfigMap names require.
pub fn dns_subdomain(what: &'static str, value: &str) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(invalid(what, value, "must not be empty"));
    }
    if value.len() > 253 {
        return Err(invalid(
            what,
            value,
            format!(
                "is {} characters long, at most 253 are allowed",
                value.len()
            ),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.'))
    {
        return Err(invalid(
            what,
            value,
            format!("contains {c:?}; only a-z, 0-9, '-' and '.' are allowed"),
        ));
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if value.split('.').any(|part| {
        part.is_empty() || !alnum(part.as_bytes()[0]) || !alnum(part.as_bytes()[part.len() - 1])
    }) {
        return Err(invalid(
            what,
            value,
            "each '.'-separated part must start and end with a letter or digit",
        ));
    }
    Ok(())
}

/// Checks that `value` is a DNS-1035 label (lower-case letters, digits and '-', starting with a
/// letter, ending alphanumeric, at most 63 characters): what Service names require.
pub fn dns_label(what: &'static str, value: &str) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(invalid(what, value, "must not be empty"));
    }
    if value.len() > MAX_LABEL {
        return Err(invalid(
            what,
            value,
            format!(
                "is {} characters long, at most {MAX_LABEL} are allowed",
                value.len()
            ),
        ));
    }
    let bytes = value.as_bytes();
    if !bytes[0].is_ascii_lowercase() {
        return Err(invalid(
            what,
            value,
            "must start with a lower-case letter (a-z)",
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(invalid(
            what,
            value,
            format!("contains {c:?}; only lower-case letters, digits and '-' are allowed"),
        ));
    }
    if bytes[bytes.len() - 1] == b'-' {
        return Err(invalid(what, value, "must end with a letter or a digit"));
    }
    Ok(())
}

/// Validates a component name together with its application: both are labels and
/// `<component>-<app>-s2idata` (the longest derived name) fits in 63 characters.
pub fn component_name(name: &str, app: &str) -> Result<(), Invalid> {
    dns_label("component name", name)?;
    dns_label("application name", app)?;
    let derived = format!("{name}-{app}{S2I_DATA_SUFFIX}");
    if derived.len() > MAX_LABEL {
        let room = MAX_LABEL - S2I_DATA_SUFFIX.len() - 1 - app.len();
        return Err(invalid(
            "component name",
            name,
            format!(
                "the derived volume claim name {derived:?} is {} characters long (at most {MAX_LABEL}); \
                 with application {app:?} the component name can have at most {room} characters",
                derived.len()
            ),
        ));
    }
    Ok(())
}

/// Validates a name (url or storage) whose object name is `<name>-<app><suffix>`.
pub fn suffixed_name(
    what: &'static str,
    name: &str,
    app: &str,
    suffix: &str,
) -> Result<(), Invalid> {
    dns_label(what, name)?;
    let derived = format!("{name}-{app}{suffix}");
    if derived.len() > MAX_LABEL {
        return Err(invalid(
            what,
            name,
            format!(
                "the derived object name {derived:?} is {} characters long, at most {MAX_LABEL} are allowed",
                derived.len()
            ),
        ));
    }
    Ok(())
}

/// Transport protocol of a container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// TCP (the default).
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
    /// SCTP.
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Protocol {
    /// The Kubernetes spelling (`TCP`, `UDP`, `SCTP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// One container port with its protocol, written `8080/TCP` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortSpec {
    /// Port number, 1..=65535.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol.as_str())
    }
}

impl PortSpec {
    /// Name used for the container and Service port: `<port>-<protocol>` in lower case.
    pub fn name(&self) -> String {
        format!(
            "{}-{}",
            self.port,
            self.protocol.as_str().to_ascii_lowercase()
        )
    }
}

/// Parses one port: `8080`, `8080/tcp`, `9100/UDP`.
pub fn port(value: &str) -> Result<PortSpec, Invalid> {
    let trimmed = value.trim();
    let (num, proto) = match trimmed.split_once('/') {
        Some((n, p)) => (n, Some(p)),
        None => (trimmed, None),
    };
    let port: u16 = num
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| invalid("port", value, "expected a number from 1 to 65535, optionally followed by /tcp, /udp or /sctp (e.g. 8080/tcp)"))?;
    let protocol = match proto.map(|p| p.to_ascii_lowercase()) {
        None => Protocol::Tcp,
        Some(p) if p == "tcp" => Protocol::Tcp,
        Some(p) if p == "udp" => Protocol::Udp,
        Some(p) if p == "sctp" => Protocol::Sctp,
        Some(_) => {
            return Err(invalid(
                "port",
                value,
                "the protocol must be tcp, udp or sctp (e.g. 8080/tcp)",
            ));
        }
    };
    Ok(PortSpec { port, protocol })
}

/// Parses a port list as given to `--port` (repeatable and comma-separated: `8080,8443/tcp`),
/// rejecting duplicates.
pub fn ports<S: AsRef<str>>(values: &[S]) -> Result<Vec<PortSpec>, Invalid> {
    let mut out: Vec<PortSpec> = Vec::new();
    for value in values {
        for part in value.as_ref().split(',') {
            if part.trim().is_empty() {
                return Err(invalid(
                    "port list",
                    value.as_ref(),
                    "contains an empty entry",
                ));
            }
            let spec = port(part)?;
            if out.contains(&spec) {
                return Err(invalid(
                    "port list",
                    value.as_ref(),
                    format!("{spec} is listed twice"),
                ));
            }
            out.push(spec);
        }
    }
    Ok(out)
}

/// Parses `KEY=VALUE`; the key must be a valid environment variable name.
pub fn env_pair(value: &str) -> Result<(String, String), Invalid> {
    let Some((key, val)) = value.split_once('=') else {
        return Err(invalid("environment variable", value, "expected KEY=VALUE"));
    };
    env_name(key).map_err(|mut e| {
        e.value = value.to_string();
        e
    })?;
    Ok((key.to_string(), val.to_string()))
}

/// Checks an environment variable name: letters, digits, '_', '-', '.', not starting with a digit.
pub fn env_name(key: &str) -> Result<(), Invalid> {
    let ok = !key.is_empty()
        && !key.as_bytes()[0].is_ascii_digit()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "environment variable name",
            key,
            "must consist of letters, digits, '_', '-' or '.', and must not start with a digit",
        ))
    }
}

/// Checks a Kubernetes resource quantity such as `512Mi`, `1Gi`, `250m`, `0.5`, `2`.
pub fn quantity(what: &'static str, value: &str) -> Result<(), Invalid> {
    const SUFFIXES: &[&str] = &[
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E", "",
    ];
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (num, suffix) = value.split_at(split);
    let num_ok = !num.is_empty()
        && num.matches('.').count() <= 1
        && num != "."
        && num.chars().any(|c| c.is_ascii_digit());
    if num_ok && SUFFIXES.contains(&suffix) {
        Ok(())
    } else {
        Err(invalid(
            what,
            value,
            "expected a Kubernetes quantity such as 512Mi, 1Gi, 250m or 2",
        ))
    }
}

/// Checks a mount path: absolute, no `..` component.
pub fn mount_path(value: &str) -> Result<(), Invalid> {
    if !value.starts_with('/') {
        return Err(invalid(
            "storage path",
            value,
            "must be an absolute path such as /data",
        ));
    }
    if value.split('/').any(|c| c == "..") {
        return Err(invalid("storage path", value, "must not contain '..'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(dns_label("n", "nodejs-app1").is_ok());
        for bad in ["", "Node", "1abc", "a_b", "abc-", &"a".repeat(64)] {
            assert!(dns_label("n", bad).is_err(), "{bad:?} accepted");
        }
        assert!(dns_label("n", &"a".repeat(63)).is_ok());
    }

    #[test]
    fn component_length_counts_app_and_s2idata() {
        // 63 - len("-s2idata") - len("-app") = 51
        assert!(component_name(&"a".repeat(51), "app").is_ok());
        let err = component_name(&"a".repeat(52), "app").unwrap_err();
        assert!(err.reason.contains("at most 51"), "{}", err.reason);
        assert!(component_name("web", "Bad").is_err());
    }

    #[test]
    fn port_syntax() {
        assert_eq!(
            ports(&["8080,8443/tcp"]).unwrap(),
            vec![
                PortSpec {
                    port: 8080,
                    protocol: Protocol::Tcp
                },
                PortSpec {
                    port: 8443,
                    protocol: Protocol::Tcp
                },
            ]
        );
        assert_eq!(port("9100/UDP").unwrap().to_string(), "9100/UDP");
        assert_eq!(port("8080/tcp").unwrap().name(), "8080-tcp");
        for bad in ["0", "65536", "80/http", "abc", "8080/", ""] {
            assert!(port(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ports(&["8080,"]).is_err());
        assert!(ports(&["8080", "8080/TCP"]).is_err());
    }

    #[test]
    fn env_syntax() {
        assert_eq!(env_pair("A_B=c=d").unwrap(), ("A_B".into(), "c=d".into()));
        assert_eq!(env_pair("EMPTY=").unwrap(), ("EMPTY".into(), String::new()));
        for bad in ["NOEQ", "=v", "1X=v", "A B=v"] {
            assert!(env_pair(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn quantities() {
        for good in ["512Mi", "1Gi", "250m", "0.5", "2", "1.5G"] {
            assert!(quantity("q", good).is_ok(), "{good:?} rejected");
        }
        for bad in ["", "Mi", "1GB", "1..2", "-1", "1 Gi"] {
            assert!(quantity("q", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn paths() {
        assert!(mount_path("/data").is_ok());
        assert!(mount_path("data").is_err());
        assert!(mount_path("/a/../b").is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// The model of a DNS-1035 label: what the Kubernetes regex says.
    fn model_label(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b[0].is_ascii_lowercase()
            && b[b.len() - 1] != b'-'
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    }

    proptest! {
        #[test]
        fn labels_match_the_model(s in "[a-zA-Z0-9_.-]{0,70}") {
            prop_assert_eq!(dns_label("x", &s).is_ok(), model_label(&s));
        }

        #[test]
        fn port_lists_round_trip(specs in proptest::collection::btree_set((1u16.., 0usize..3), 1..6)) {
            let protos = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];
            let mut seen = std::collections::BTreeSet::new();
            let specs: Vec<PortSpec> = specs
                .into_iter()
                .map(|(port, p)| PortSpec { port, protocol: protos[p] })
                .filter(|s| seen.insert(*s))
                .collect();
            let text = specs.iter().map(|s| s.to_string().to_lowercase()).collect::<Vec<_>>().join(",");
            prop_assert_eq!(ports(&[text]).unwrap(), specs);
        }

        #[test]
        fn component_names_fit_the_derived_claim(name in "[a-z][a-z0-9-]{0,62}", app in "[a-z][a-z0-9]{0,20}") {
            let ok = component_name(&name, &app).is_ok();
            let model = model_label(&name) && format!("{name}-{app}-s2idata").len() <= 63;
            prop_assert_eq!(ok, model);
        }
    }
}
