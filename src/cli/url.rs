//! `odo url create/list/describe/delete`: urls are kept in `.odo/config.yaml` and become Routes
//! (openshift) or Ingresses (kubernetes) on the next push; list/describe compare with the cluster.

use clap::Subcommand;
use serde_json::{Value, json};

use super::GlobalArgs;
use super::output;
use crate::config::LocalConfigFile;
use crate::config::UrlKind;
use crate::config::local::{DEFAULT_APP, UrlEntry};
use crate::config::validate;
use crate::error::{Error, Result};
use crate::manifests::{Flavor, kubernetes::ingress_host};
use crate::push::{self, Observed};

/// `odo url` subcommands.
#[derive(Debug, Subcommand)]
pub enum UrlCommand {
    /// Add a url to the component's configuration
    #[command(after_help = "Examples:
  # Create a url for the component's only port
  odo url create

  # Create a url named web for port 8080 and apply it now
  odo url create web --port 8080 --now

  # A secure url with an Ingress host on Kubernetes
  odo url create web --port 8080 --host apps.example.com --secure

  # An Ingress instead of a Route on OpenShift
  odo url create web --port 8080 --ingress --host apps.example.com")]
    Create {
        /// Url name (default: <component>-<port>)
        url_name: Option<String>,
        /// Component port the url points to (required when the component has several ports)
        #[arg(long)]
        port: Option<u16>,
        /// Use TLS (edge termination on OpenShift; a TLS section on the Ingress)
        #[arg(long)]
        secure: bool,
        /// Host domain for the Ingress: the url becomes <name>.<host> (Kubernetes, or
        /// OpenShift with --ingress)
        #[arg(long)]
        host: Option<String>,
        /// Secret holding the TLS certificate (with --secure, for an Ingress)
        #[arg(long, requires = "secure")]
        tls_secret: Option<String>,
        /// Make an Ingress instead of a Route on OpenShift (on Kubernetes every url is one)
        #[arg(long)]
        ingress: bool,
        /// Push right away
        #[arg(long)]
        now: bool,
    },
    /// List the component's urls and whether they are pushed
    #[command(after_help = "Examples:
  odo url list
  odo url list -o json")]
    List,
    /// Describe one url
    #[command(after_help = "Examples:
  odo url describe web -o json")]
    Describe {
        /// Url name
        url_name: String,
    },
    /// Remove a url from the component's configuration
    #[command(after_help = "Examples:
  # Remove the url web; the next push deletes its Route/Ingress
  odo url delete web -f

  # Remove it from the cluster right away
  odo url delete web -f --now")]
    Delete {
        /// Url name
        url_name: String,
        /// Do not ask for confirmation
        #[arg(short = 'f', long)]
        force: bool,
        /// Push right away
        #[arg(long)]
        now: bool,
    },
}

impl UrlCommand {
    /// Whether `-o json` is supported.
    pub fn machine_output(&self) -> bool {
        matches!(
            self,
            UrlCommand::Create { .. } | UrlCommand::List | UrlCommand::Describe { .. }
        )
    }
}

/// One url with its state.
#[derive(Debug, Clone, PartialEq)]
pub struct UrlRow {
    /// The url (from the config, or from the cluster for locally deleted ones).
    pub url: UrlEntry,
    /// `Pushed`, `Not Pushed`, `Locally Deleted` or `Unknown`.
    pub state: &'static str,
    /// Host as the cluster reports it, when pushed.
    pub cluster_host: Option<String>,
}

/// Joins the configured urls with those on the cluster (None: cluster state unknown).
pub fn url_rows(config: &[UrlEntry], observed: Option<&Observed>) -> Vec<UrlRow> {
    let mut rows: Vec<UrlRow> = config
        .iter()
        .map(|u| {
            let on_cluster = observed.and_then(|o| o.urls.iter().find(|c| c.name == u.name));
            UrlRow {
                url: u.clone(),
                state: match (observed, on_cluster) {
                    (None, _) => "Unknown",
                    (Some(_), Some(_)) => "Pushed",
                    (Some(_), None) => "Not Pushed",
                },
                cluster_host: on_cluster.and_then(|c| c.host.clone()),
            }
        })
        .collect();
    if let Some(o) = observed {
        for c in &o.urls {
            if !config.iter().any(|u| u.name == c.name) {
                rows.push(UrlRow {
                    url: UrlEntry {
                        name: c.name.clone(),
                        port: c.port,
                        secure: c.secure,
                        host: None,
                        tls_secret: None,
                        kind: Some(c.kind),
                    },
                    state: "Locally Deleted",
                    cluster_host: c.host.clone(),
                });
            }
        }
    }
    rows
}

fn host_of(row: &UrlRow) -> String {
    row.cluster_host
        .clone()
        .or_else(|| ingress_host(&row.url))
        .unwrap_or_default()
}

fn url_json(row: &UrlRow, flavor: Option<Flavor>) -> Value {
    let kind = row
        .url
        .kind_on(flavor.unwrap_or(Flavor::Kubernetes))
        .as_str();
    let mut spec = json!({
        "host": host_of(row),
        "protocol": if row.url.secure { "https" } else { "http" },
        "port": row.url.port,
        "secure": row.url.secure,
        "kind": kind,
    });
    if let Some(t) = &row.url.tls_secret {
        spec["tlssecret"] = t.clone().into();
    }
    output::url(&row.url.name, spec, row.state)
}

fn url_string(row: &UrlRow) -> String {
    let host = host_of(row);
    if host.is_empty() {
        "<provided by cluster>".into()
    } else {
        format!("{}://{host}", if row.url.secure { "https" } else { "http" })
    }
}

/// Runs an `odo url` subcommand.
pub fn run(g: &GlobalArgs, cmd: UrlCommand) -> Result<()> {
    match cmd {
        UrlCommand::Create {
            url_name,
            port,
            secure,
            host,
            tls_secret,
            ingress,
            now,
        } => create(
            g,
            UrlRequest {
                name: url_name,
                port,
                secure,
                host,
                tls_secret,
                ingress,
            },
            now,
        ),
        UrlCommand::List => list(g),
        UrlCommand::Describe { url_name } => describe(g, &url_name),
        UrlCommand::Delete {
            url_name,
            force,
            now,
        } => delete(g, &url_name, force, now),
    }
}

/// What `odo url create` was asked for.
struct UrlRequest {
    name: Option<String>,
    port: Option<u16>,
    secure: bool,
    host: Option<String>,
    tls_secret: Option<String>,
    ingress: bool,
}

fn create(g: &GlobalArgs, req: UrlRequest, now: bool) -> Result<()> {
    let UrlRequest {
        name,
        port,
        secure,
        host,
        tls_secret,
        ingress,
    } = req;
    let mut file = g.load_config()?;
    let component = file.settings().name.clone().unwrap_or_default();
    let app = file
        .settings()
        .application
        .clone()
        .unwrap_or_else(|| DEFAULT_APP.into());
    let ports: Vec<_> = push::component_ports(&file)?
        .into_iter()
        .filter(|p| p.protocol == validate::Protocol::Tcp)
        .collect();
    let port = match port {
        Some(p) => {
            if !ports.iter().any(|s| s.port == p) {
                return Err(Error::user(
                    format!("component {component} does not expose TCP port {p}"),
                    format!(
                        "use one of its ports ({}) or add it with `odo config set Ports ...`",
                        ports
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                ));
            }
            p
        }
        None => match ports.as_slice() {
            [only] => only.port,
            _ => {
                return Err(Error::user(
                    format!(
                        "component {component} exposes several ports; say which one the url is for"
                    ),
                    format!(
                        "add --port with one of {}",
                        ports
                            .iter()
                            .map(|p| p.port.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        },
    };
    let name = name.unwrap_or_else(|| format!("{component}-{port}"));
    validate::suffixed_name("url name", &name, &app, "")?;
    if let Some(h) = &host {
        validate_host(h)?;
    }
    let urls = file.settings_mut().urls.get_or_insert_with(Vec::new);
    if urls.iter().any(|u| u.name == name) {
        return Err(Error::user(
            format!("url {name} already exists in component {component}"),
            "choose another name, or `odo url delete` it first",
        ));
    }
    let entry = UrlEntry {
        name: name.clone(),
        port,
        secure,
        host,
        tls_secret,
        kind: ingress.then_some(UrlKind::Ingress),
    };
    urls.push(entry.clone());
    file.save()?;
    if g.json() {
        let row = UrlRow {
            url: entry,
            state: "Not Pushed",
            cluster_host: None,
        };
        output::print_json(&url_json(&row, g.flavor));
    } else {
        println!(" ✓  URL {name} created for component: {component}");
        if !now {
            println!("\nTo apply the URL configuration changes, please use `odo push`");
        }
    }
    if now {
        return super::component::push(g, Default::default());
    }
    Ok(())
}

fn validate_host(h: &str) -> Result<()> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            validate::dns_label("host", l).is_ok()
                || l.chars().all(|c| c.is_ascii_digit()) && !l.is_empty()
        });
    if ok {
        Ok(())
    } else {
        Err(validate::Invalid {
            what: "host",
            value: h.into(),
            reason: "expected a DNS domain such as apps.example.com".into(),
        }
        .into())
    }
}

fn rows(g: &GlobalArgs, file: &LocalConfigFile) -> (Vec<UrlRow>, Option<Flavor>) {
    let observed = super::remote::observe_best_effort(g, file);
    let config = file.settings().urls.clone().unwrap_or_default();
    let flavor = observed.as_ref().map(|o| o.flavor).or(g.flavor);
    (url_rows(&config, observed.as_ref()), flavor)
}

fn list(g: &GlobalArgs) -> Result<()> {
    let file = g.load_config()?;
    let (rows, flavor) = rows(g, &file);
    if g.json() {
        output::print_json(&output::list(
            rows.iter().map(|r| url_json(r, flavor)).collect(),
        ));
        return Ok(());
    }
    let component = file.settings().name.clone().unwrap_or_default();
    if rows.is_empty() {
        println!("There are no URLs defined for component {component}");
        return Ok(());
    }
    println!("Found the following URLs for component {component}");
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.url.name.clone(),
                r.state.to_string(),
                url_string(r),
                r.url.port.to_string(),
                r.url.secure.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        output::table(&["NAME", "STATE", "URL", "PORT", "SECURE"], &table)
    );
    if rows.iter().any(|r| r.state != "Pushed") {
        println!("There are local changes. Please run 'odo push'.");
    }
    Ok(())
}

fn describe(g: &GlobalArgs, name: &str) -> Result<()> {
    let file = g.load_config()?;
    let (rows, flavor) = rows(g, &file);
    let Some(row) = rows.iter().find(|r| r.url.name == name) else {
        return Err(Error::user(
            format!("url {name} does not exist"),
            "see `odo url list` for the component's urls",
        ));
    };
    if g.json() {
        output::print_json(&url_json(row, flavor));
    } else {
        let table = vec![vec![
            row.url.name.clone(),
            row.state.to_string(),
            url_string(row),
            row.url.port.to_string(),
            row.url.secure.to_string(),
        ]];
        print!(
            "{}",
            output::table(&["NAME", "STATE", "URL", "PORT", "SECURE"], &table)
        );
    }
    Ok(())
}

fn delete(g: &GlobalArgs, name: &str, force: bool, now: bool) -> Result<()> {
    let mut file = g.load_config()?;
    let urls = file.settings_mut().urls.get_or_insert_with(Vec::new);
    let before = urls.len();
    urls.retain(|u| u.name != name);
    if urls.len() == before {
        return Err(Error::user(
            format!("url {name} does not exist"),
            "see `odo url list` for the component's urls",
        ));
    }
    if !force {
        return Err(Error::user(
            format!("deleting url {name} needs confirmation"),
            "add -f",
        ));
    }
    if urls.is_empty() {
        file.settings_mut().urls = None;
    }
    file.save()?;
    println!(" ✓  URL {name} removed from the configuration");
    if now {
        return super::component::push(g, Default::default());
    }
    println!("\nTo delete the URL from the cluster, please use `odo push`");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::ClusterUrl;

    fn url(name: &str) -> UrlEntry {
        UrlEntry {
            name: name.into(),
            port: 8080,
            secure: false,
            host: None,
            tls_secret: None,
            kind: None,
        }
    }

    #[test]
    fn states_from_config_and_cluster() {
        let observed = Observed {
            exists: true,
            flavor: Flavor::OpenShift,
            urls: vec![
                ClusterUrl {
                    name: "a".into(),
                    port: 8080,
                    secure: false,
                    host: Some("a.apps".into()),
                    kind: crate::config::UrlKind::Route,
                },
                ClusterUrl {
                    name: "gone".into(),
                    port: 8080,
                    secure: true,
                    host: None,
                    kind: crate::config::UrlKind::Route,
                },
            ],
            storage: vec![],
        };
        let rows = url_rows(&[url("a"), url("b")], Some(&observed));
        let states: Vec<_> = rows
            .iter()
            .map(|r| (r.url.name.as_str(), r.state))
            .collect();
        assert_eq!(
            states,
            vec![
                ("a", "Pushed"),
                ("b", "Not Pushed"),
                ("gone", "Locally Deleted")
            ]
        );
        assert_eq!(url_string(&rows[0]), "http://a.apps");
        let unknown = url_rows(&[url("a")], None);
        assert_eq!(unknown[0].state, "Unknown");
    }

    #[test]
    fn hosts() {
        assert!(validate_host("apps.example.com").is_ok());
        assert!(validate_host("127.0.0.1.nip.io").is_ok());
        assert!(validate_host("bad_host").is_err());
        assert!(validate_host("").is_err());
    }
}
