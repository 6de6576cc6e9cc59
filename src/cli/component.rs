//! Component commands: `create`, `push`, `watch`, `delete`, `list`, `describe`, `log`.
//! `create` only writes `.odo/config.yaml`; the others talk to the cluster through `crate::push`
//! and `crate::cluster`.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};

use super::GlobalArgs;
use super::output::{self, API_VERSION};
use crate::catalog;
use crate::config::local::{DEFAULT_APP, EnvVar};
use crate::config::preference::PreferenceFile;
use crate::config::{LinkKind, LocalConfigFile, SourceType, validate};
use crate::error::{Error, Result};

/// `odo create`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  # Create a Node.js component named after the directory
  odo create nodejs

  # Create a named Java component in ./backend exposing two ports
  odo create java backend --context ./backend --port 8080,8443/tcp

  # Create, then push right away
  odo create python api --env DEBUG=1 --now")]
pub struct CreateArgs {
    /// Component type (builder image), e.g. nodejs, java:11, python
    pub component_type: String,
    /// Component name (default: <type>-<directory>-<4 random letters>)
    pub component_name: Option<String>,
    /// Ports to expose, e.g. 8080,8443/tcp (repeatable)
    #[arg(short = 'p', long = "port", value_name = "PORTS")]
    pub ports: Vec<String>,
    /// Environment variables KEY=VALUE (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub envs: Vec<String>,
    /// Push right after creating
    #[arg(long)]
    pub now: bool,
    /// Binary (e.g. a jar) in the context to deploy instead of sources (java only)
    #[arg(short = 'b', long, value_name = "FILE", conflicts_with = "git")]
    pub binary: Option<PathBuf>,
    /// Git repository to build from (OpenShift only)
    #[arg(short = 'g', long, value_name = "URL")]
    pub git: Option<String>,
    /// Git ref (with --git)
    #[arg(short = 'r', long = "ref", requires = "git", value_name = "REF")]
    pub git_ref: Option<String>,
}

/// `odo push`.
#[derive(Debug, Args, Clone, Default)]
#[command(after_help = "Examples:
  # Push the component in the current directory
  odo push

  # Push another directory's component and show the build output
  odo push --context ./frontend --show-log

  # Only apply configuration changes (ports, env, urls, storage)
  odo push --config")]
pub struct PushArgs {
    /// Component name (must match the context's config)
    pub component_name: Option<String>,
    /// Show the build (assemble) output
    #[arg(long)]
    pub show_log: bool,
    /// Ignore rules replacing .odoignore/.gitignore (repeatable)
    #[arg(long = "ignore", value_name = "GLOB")]
    pub ignore: Vec<String>,
    /// Push only the configuration
    #[arg(long, conflicts_with = "source")]
    pub config: bool,
    /// Push only the source (the component must exist)
    #[arg(long)]
    pub source: bool,
    /// Send every file and rebuild, even when nothing changed
    #[arg(short = 'f', long = "force-build")]
    pub force_build: bool,
}

/// `odo watch`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  # Push every change in the current directory
  odo watch

  # Push immediately after each change, showing the build output
  odo watch --delay 0 --show-log")]
pub struct WatchArgs {
    /// Show the build output
    #[arg(long)]
    pub show_log: bool,
    /// Ignore rules replacing .odoignore/.gitignore (repeatable)
    #[arg(long = "ignore", value_name = "GLOB")]
    pub ignore: Vec<String>,
    /// Seconds to wait after the last change before pushing (0: push immediately)
    #[arg(long, default_value_t = 1)]
    pub delay: u64,
}

/// `odo delete`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  # Delete the component in the current directory from the cluster
  odo delete -f

  # Delete it and its local .odo configuration
  odo delete -f -a")]
pub struct DeleteArgs {
    /// Component name (default: the context's component)
    pub component_name: Option<String>,
    /// Do not ask for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Also delete the local configuration (.odo)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Wait until every object is gone
    #[arg(short = 'w', long)]
    pub wait: bool,
}

/// `odo list`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  # List the components of the current application
  odo list

  # List components of every application, as JSON
  odo list --all-apps -o json

  # Find local components under a directory
  odo list --path ~/src")]
pub struct ListArgs {
    /// Look for local components (.odo directories) under this directory
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// List components of every application
    #[arg(long)]
    pub all_apps: bool,
}

/// `odo describe`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  # Describe the component in the current directory
  odo describe

  # As JSON
  odo describe -o json")]
pub struct DescribeArgs {
    /// Component name (default: the context's component)
    pub component_name: Option<String>,
}

/// `odo log`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  # Print the component's logs
  odo log

  # Follow them
  odo log -f")]
pub struct LogArgs {
    /// Component name (default: the context's component)
    pub component_name: Option<String>,
    /// Follow the log
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// Lower-cases and replaces anything that is not a letter or digit with '-'.
fn sanitize(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// odo's default name: `<type>-<prefix>-<4 random letters>`, where prefix is NamePrefix or the
/// context directory's name (at most 12 characters).
pub fn default_component_name(
    type_name: &str,
    context: &Path,
    name_prefix: Option<&str>,
) -> String {
    use rand::Rng;
    let dir = context
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let prefix = match name_prefix {
        Some(p) => sanitize(p),
        None => sanitize(&dir)
            .chars()
            .take(12)
            .collect::<String>()
            .trim_end_matches('-')
            .to_string(),
    };
    let mut rng = rand::rng();
    let suffix: String = (0..4)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    [sanitize(type_name), prefix, suffix]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The Component document for a local config.
pub fn component_json(file: &LocalConfigFile, namespace: Option<&str>, state: &str) -> Value {
    let s = file.settings();
    let name = s.name.clone().unwrap_or_default();
    let source_type = s.source_type.unwrap_or_default();
    let location = s.source_location.clone().unwrap_or_else(|| "./".into());
    let source = match source_type {
        SourceType::Git => location,
        _ => format!("file://{location}"),
    };
    let ports: Vec<String> = validate::ports(s.ports.as_deref().unwrap_or_default())
        .map(|p| p.iter().map(|p| p.to_string()).collect())
        .unwrap_or_default();
    let env: Vec<Value> = s
        .envs
        .iter()
        .flatten()
        .map(|e| json!({"name": e.name, "value": e.value}))
        .collect();
    let urls: Vec<&String> = s.urls.iter().flatten().map(|u| &u.name).collect();
    let storage: Vec<&String> = s.storage.iter().flatten().map(|st| &st.name).collect();
    let context = file
        .context
        .canonicalize()
        .unwrap_or_else(|_| file.context.clone());
    json!({
        "kind": "Component",
        "apiVersion": API_VERSION,
        "metadata": output::metadata(&name, namespace.or(s.project.as_deref())),
        "spec": {
            "app": s.application.clone().unwrap_or_else(|| DEFAULT_APP.into()),
            "type": s.component_type.clone().unwrap_or_default(),
            "source": source,
            "sourceType": source_type.as_str(),
            "url": urls,
            "storage": storage,
            "env": env,
            "ports": ports,
        },
        "status": {
            "context": context.display().to_string(),
            "state": state,
            "linkedComponents": linked_components(s),
            "linkedServices": s.links.iter().flatten()
                .filter(|l| l.kind == LinkKind::Service)
                .map(|l| l.name.clone())
                .collect::<Vec<_>>(),
        },
    })
}

/// `status.linkedComponents` as odo shows it: component name -> linked ports.
fn linked_components(s: &crate::config::ComponentSettings) -> Value {
    let mut map = serde_json::Map::new();
    for l in s
        .links
        .iter()
        .flatten()
        .filter(|l| l.kind == LinkKind::Component)
    {
        let ports = map.entry(l.name.clone()).or_insert_with(|| json!([]));
        if let (Some(p), Some(list)) = (l.port, ports.as_array_mut()) {
            list.push(json!(p.to_string()));
        }
    }
    Value::Object(map)
}

/// Runs `odo create`.
pub fn create(g: &GlobalArgs, a: CreateArgs) -> Result<()> {
    let context = g.context_dir()?;
    let mut file = LocalConfigFile::load(&context)?;
    if file.exists {
        return Err(Error::user(
            format!(
                "{} already contains a component ({})",
                context.display(),
                file.path.display()
            ),
            "use another --context, change it with `odo config set`, or remove it with `odo delete -a`",
        ));
    }
    let resolved = catalog::resolve(&a.component_type)?;
    let pref = PreferenceFile::load()?;
    let app = g.app.clone().unwrap_or_else(|| DEFAULT_APP.to_string());
    let name = match a.component_name {
        Some(n) => n,
        None => default_component_name(
            resolved.builder.name,
            &context,
            pref.preference.settings.name_prefix.as_deref(),
        ),
    };
    validate::component_name(&name, &app)?;
    if let Some(p) = &g.project {
        validate::dns_label("project name", p)?;
    }
    let ports = validate::ports(&a.ports)?;
    let mut envs = Vec::new();
    for e in &a.envs {
        let (name, value) = validate::env_pair(e)?;
        envs.retain(|x: &EnvVar| x.name != name);
        envs.push(EnvVar { name, value });
    }
    let (source_type, location) = if let Some(bin) = &a.binary {
        if resolved.builder.name != "java" {
            return Err(Error::user(
                format!(
                    "--binary is only supported for java components, not {}",
                    resolved.builder.name
                ),
                "create a java component, or push sources instead",
            ));
        }
        let full = context.join(bin);
        if !full.is_file() {
            return Err(Error::user(
                format!("binary {} does not exist", full.display()),
                "give a path to a file inside the context directory",
            ));
        }
        (SourceType::Binary, bin.to_string_lossy().into_owned())
    } else if let Some(url) = &a.git {
        (SourceType::Git, url.clone())
    } else {
        (SourceType::Local, "./".to_string())
    };

    let s = file.settings_mut();
    s.component_type = Some(a.component_type.clone());
    s.name = Some(name.clone());
    s.application = Some(app);
    s.project = g.project.clone();
    s.source_type = Some(source_type);
    s.source_location = Some(location);
    s.git_ref = a.git_ref.clone();
    s.ports = (!ports.is_empty()).then(|| ports.iter().map(|p| p.to_string()).collect());
    s.envs = (!envs.is_empty()).then_some(envs);
    file.save()?;

    if g.json() {
        output::print_json(&component_json(&file, g.project.as_deref(), "Not Pushed"));
    } else {
        println!("Validation");
        println!(
            " ✓  Checking component type {}:{}",
            resolved.builder.name, resolved.tag
        );
        println!(" ✓  Validating component name {name}");
        println!();
        println!("Component {name} created in {}", file.path.display());
        if !a.now {
            println!("Please use `odo push` command to create the component with source deployed");
        }
    }
    if a.now {
        let mut g2 = g.clone();
        g2.context = Some(context);
        return push(&g2, PushArgs::default());
    }
    Ok(())
}

/// Runs `odo push`.
pub fn push(g: &GlobalArgs, a: PushArgs) -> Result<()> {
    let file = g.load_config()?;
    check_name(&file, a.component_name.as_deref())?;
    crate::push::run_push(g, &file, &a)
}

/// Runs `odo watch`.
pub fn watch(g: &GlobalArgs, a: WatchArgs) -> Result<()> {
    let file = g.load_config()?;
    crate::push::run_watch(g, &file, a.delay, a.show_log, &a.ignore)
}

/// Runs `odo delete`.
pub fn delete(g: &GlobalArgs, a: DeleteArgs) -> Result<()> {
    let file = g.load_config()?;
    check_name(&file, a.component_name.as_deref())?;
    if !a.force {
        return Err(Error::user(
            "odo delete needs confirmation",
            "add -f to delete without a prompt",
        ));
    }
    super::remote::run_delete(g, &file, a.wait)?;
    if a.all {
        let dir = file
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        std::fs::remove_dir_all(&dir).map_err(|source| Error::Io {
            what: "cannot delete",
            path: dir.clone(),
            source,
        })?;
        println!(" ✓  Deleted local configuration {}", dir.display());
    }
    Ok(())
}

/// Runs `odo list`.
pub fn list(g: &GlobalArgs, a: ListArgs) -> Result<()> {
    if let Some(root) = &a.path {
        return list_local(g, root);
    }
    super::remote::run_list(g, a.all_apps)
}

fn find_configs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 8 {
        return;
    }
    if dir.join(".odo").join("config.yaml").is_file() {
        out.push(dir.to_path_buf());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n == ".git" || n == ".odo" || n == "node_modules")
        })
        .collect();
    dirs.sort();
    for d in dirs {
        find_configs(&d, depth + 1, out);
    }
}

fn list_local(g: &GlobalArgs, root: &Path) -> Result<()> {
    let mut dirs = Vec::new();
    find_configs(root, 0, &mut dirs);
    let mut items = Vec::new();
    for dir in dirs {
        let file = LocalConfigFile::load_existing(&dir)?;
        items.push(component_json(&file, None, "Unknown"));
    }
    if g.json() {
        output::print_json(&output::list(items));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|c| {
            vec![
                c["spec"]["app"].as_str().unwrap_or_default().to_string(),
                c["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                c["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                c["spec"]["type"].as_str().unwrap_or_default().to_string(),
                c["status"]["context"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        output::table(&["APP", "NAME", "PROJECT", "TYPE", "CONTEXT"], &rows)
    );
    Ok(())
}

/// Runs `odo describe`.
pub fn describe(g: &GlobalArgs, a: DescribeArgs) -> Result<()> {
    let file = g.load_config()?;
    check_name(&file, a.component_name.as_deref())?;
    super::remote::run_describe(g, &file)
}

/// Runs `odo log`.
pub fn log(g: &GlobalArgs, a: LogArgs) -> Result<()> {
    let file = g.load_config()?;
    check_name(&file, a.component_name.as_deref())?;
    super::remote::run_log(g, &file, a.follow)
}

fn check_name(file: &LocalConfigFile, given: Option<&str>) -> Result<()> {
    if let Some(given) = given {
        let own = file.settings().name.as_deref().unwrap_or_default();
        if given != own {
            return Err(Error::user(
                format!(
                    "the component in {} is {own:?}, not {given:?}",
                    file.context.display()
                ),
                "omit the name, or point --context at that component's directory",
            ));
        }
    }
    Ok(())
}

/// Human description of a component (used by `describe`).
pub fn describe_text(file: &LocalConfigFile, state: &str, url_lines: &[String]) -> String {
    let s = file.settings();
    let mut out = String::new();
    out.push_str(&format!(
        "Component Name: {}\n",
        s.name.clone().unwrap_or_default()
    ));
    out.push_str(&format!(
        "Type: {}\n",
        s.component_type.clone().unwrap_or_default()
    ));
    out.push_str(&format!(
        "Source: {}\n",
        s.source_location.clone().unwrap_or_else(|| "./".into())
    ));
    out.push_str(&format!("State: {state}\n"));
    if let Some(envs) = s.envs.as_ref().filter(|e| !e.is_empty()) {
        out.push_str("Environment Variables:\n");
        for e in envs {
            out.push_str(&format!(" · {}={}\n", e.name, e.value));
        }
    }
    if let Some(st) = s.storage.as_ref().filter(|e| !e.is_empty()) {
        out.push_str("Storage:\n");
        for e in st {
            out.push_str(&format!(
                " · {} of size {} mounted to {}\n",
                e.name, e.size, e.path
            ));
        }
    }
    if let Some(links) = s.links.as_ref().filter(|l| !l.is_empty()) {
        out.push_str("Linked:\n");
        for l in links {
            match l.port {
                Some(p) => out.push_str(&format!(
                    " · component {} port {p} (secret {})\n",
                    l.name, l.secret
                )),
                None => out.push_str(&format!(" · service {} (secret {})\n", l.name, l.secret)),
            }
        }
    }
    if !url_lines.is_empty() {
        out.push_str("URLs:\n");
        for u in url_lines {
            out.push_str(&format!(" · {u}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_name_shape() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("My_Frontend Project");
        std::fs::create_dir(&ctx).unwrap();
        let n = default_component_name("nodejs", &ctx, None);
        assert!(n.starts_with("nodejs-my-frontend-"), "{n}");
        assert!(validate::component_name(&n, "app").is_ok(), "{n}");
        let n = default_component_name("java", &ctx, Some("team"));
        assert!(
            n.starts_with("java-team-") && n.len() == "java-team-".len() + 4,
            "{n}"
        );
    }
}
