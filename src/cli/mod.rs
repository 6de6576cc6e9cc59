//! The `odo` command line: the clap command tree, global flags, dispatch to the command modules,
//! and rendering of errors (cause chain and hint, or odo's Error document with `-o json`).

pub mod app;
pub mod catalog_cmd;
pub mod component;
pub mod config_cmd;
pub mod link;
pub mod misc;
pub mod output;
pub mod preference_cmd;
pub mod progress;
pub mod project;
pub mod remote;
pub mod storage;
pub mod url;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::cluster::ClusterChoice;
use crate::config::LocalConfigFile;
use crate::error::{Error, Result};
use crate::manifests::Flavor;
use output::OutputFormat;

const ROOT_EXAMPLES: &str = "Examples:
  # Create a Node.js component from the current directory and push it
  odo create nodejs
  odo push

  # Work on a component in another directory
  odo push --context ./frontend

  # Expose it and follow its logs
  odo url create web --port 8080
  odo push
  odo log -f";

/// odo: develop applications on Kubernetes and OpenShift.
#[derive(Debug, Parser)]
#[command(
    name = "odo",
    version,
    about = "odo: develop applications on Kubernetes and OpenShift",
    long_about = "odo creates, pushes and watches source components on a Kubernetes or OpenShift cluster. \
                  Without a kubeconfig it runs them on an embedded cluster simulator.",
    after_help = ROOT_EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    /// Global flags.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Directory holding the component's .odo/config.yaml (default: the current directory)
    #[arg(long, global = true, value_name = "DIR")]
    pub context: Option<PathBuf>,
    /// Project (namespace) to use
    #[arg(long, global = true, value_name = "NAME")]
    pub project: Option<String>,
    /// Application to use
    #[arg(long, global = true, value_name = "NAME")]
    pub app: Option<String>,
    /// Output format (json) for listing and describing commands
    #[arg(short = 'o', long = "output", global = true, value_enum)]
    pub output: Option<OutputFormat>,
    /// Log level (0-9); ODO_LOG_LEVEL is used when 0
    #[arg(
        short = 'v',
        long = "v",
        global = true,
        default_value_t = 0,
        value_name = "LEVEL"
    )]
    pub verbosity: u8,
    /// Cluster to use: `kube` (KUBECONFIG / ~/.kube/config) or `sim` (the embedded simulator)
    #[arg(long, global = true, value_enum, env = "ODO_CLUSTER")]
    pub cluster: Option<ClusterChoice>,
    /// Object flavor: kubernetes or openshift (default: detected from the cluster's API groups)
    #[arg(long, global = true, value_parser = parse_flavor)]
    pub flavor: Option<Flavor>,
}

fn parse_flavor(s: &str) -> std::result::Result<Flavor, String> {
    s.parse()
}

impl GlobalArgs {
    /// The context directory.
    pub fn context_dir(&self) -> Result<PathBuf> {
        match &self.context {
            Some(dir) => {
                if !dir.is_dir() {
                    return Err(Error::user(
                        format!("context directory {} does not exist", dir.display()),
                        "pass an existing directory to --context",
                    ));
                }
                Ok(dir.clone())
            }
            None => std::env::current_dir().map_err(|source| Error::Io {
                what: "cannot read the current directory",
                path: PathBuf::from("."),
                source,
            }),
        }
    }

    /// Loads the context's config, failing when there is none.
    pub fn load_config(&self) -> Result<LocalConfigFile> {
        Ok(LocalConfigFile::load_existing(&self.context_dir()?)?)
    }

    /// Whether `-o json` was given.
    pub fn json(&self) -> bool {
        self.output == Some(OutputFormat::Json)
    }
}

/// Every odo command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a component configuration in the context directory
    Create(component::CreateArgs),
    /// Push the component's configuration and source to the cluster
    Push(component::PushArgs),
    /// Push changes to the cluster whenever a file changes
    Watch(component::WatchArgs),
    /// Delete the component from the cluster (and with -a its local configuration)
    Delete(component::DeleteArgs),
    /// List the components of the application
    List(component::ListArgs),
    /// Describe a component
    Describe(component::DescribeArgs),
    /// Show the component's logs
    Log(component::LogArgs),
    /// Link the component to another component or a service (their Secret becomes environment)
    Link(link::LinkArgs),
    /// Remove a link made with `odo link`
    Unlink(link::UnlinkArgs),
    /// Manage URLs (Routes on OpenShift, Ingresses on Kubernetes)
    #[command(subcommand)]
    Url(url::UrlCommand),
    /// Manage storage (persistent volume claims) mounted into the component
    #[command(subcommand)]
    Storage(storage::StorageCommand),
    /// Set, unset or view the component's local configuration
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Set, unset or view global preferences
    #[command(subcommand)]
    Preference(preference_cmd::PreferenceCommand),
    /// Manage projects (namespaces)
    #[command(subcommand)]
    Project(project::ProjectCommand),
    /// Manage applications (groups of components)
    #[command(subcommand)]
    App(app::AppCommand),
    /// Browse the component types odo can create
    #[command(subcommand)]
    Catalog(catalog_cmd::CatalogCommand),
    /// Print the version of odo and of the cluster
    Version(misc::VersionArgs),
    /// Print a shell completion script
    Completion(misc::CompletionArgs),
    /// Utilities
    #[command(subcommand)]
    Utils(misc::UtilsCommand),
}

impl Command {
    /// Whether the command supports `-o json`.
    fn machine_output(&self) -> bool {
        use Command::*;
        match self {
            Create(_) | List(_) | Describe(_) | Version(_) => true,
            Url(c) => c.machine_output(),
            Storage(c) => c.machine_output(),
            Config(c) => c.machine_output(),
            Preference(c) => c.machine_output(),
            Project(_) | App(_) | Catalog(_) => true,
            Utils(c) => c.machine_output(),
            _ => false,
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    if cli.global.json() && !cli.command.machine_output() {
        return Err(Error::Usage {
            message: "machine readable output is not yet implemented for this command".into(),
        });
    }
    let g = &cli.global;
    if g.context.is_some()
        && (g.app.is_some() || g.project.is_some())
        && !matches!(cli.command, Command::Create(_))
    {
        return Err(Error::Usage {
            message: "--context cannot be combined with --app or --project: the component's \
                      .odo/config.yaml in that directory already names its application and \
                      project (change them with `odo config set`)"
                .into(),
        });
    }
    match cli.command {
        Command::Create(a) => component::create(g, a),
        Command::Push(a) => component::push(g, a),
        Command::Watch(a) => component::watch(g, a),
        Command::Delete(a) => component::delete(g, a),
        Command::List(a) => component::list(g, a),
        Command::Describe(a) => component::describe(g, a),
        Command::Log(a) => component::log(g, a),
        Command::Link(a) => link::link(g, a),
        Command::Unlink(a) => link::unlink(g, a),
        Command::Url(c) => url::run(g, c),
        Command::Storage(c) => storage::run(g, c),
        Command::Config(c) => config_cmd::run(g, c),
        Command::Preference(c) => preference_cmd::run(g, c),
        Command::Project(c) => project::run(g, c),
        Command::App(c) => app::run(g, c),
        Command::Catalog(c) => catalog_cmd::run(g, c),
        Command::Version(a) => misc::version(g, a),
        Command::Completion(a) => misc::completion(a),
        Command::Utils(c) => misc::utils(g, c),
    }
}

fn init_logging(verbosity: u8) {
    let level = if verbosity == 0 {
        std::env::var("ODO_LOG_LEVEL")
            .ok()
            .and_then(|v| v.parse::<u8>().ok())
            .unwrap_or(0)
    } else {
        verbosity
    };
    let filter = match level {
        0 => "warn",
        1..=3 => "info",
        4..=6 => "debug",
        _ => "trace",
    };
    let env_filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("odo={filter},odo_sim={filter}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

/// Renders an error for humans: the message, each cause, and a hint.
pub fn render_error(err: &Error) -> String {
    let chain = err.chain();
    let mut out = format!("error: {}\n", chain[0]);
    for cause in &chain[1..] {
        out.push_str(&format!("  caused by: {cause}\n"));
    }
    if let Some(hint) = err.hint() {
        out.push_str(&format!("hint: {hint}\n"));
    }
    out
}

/// Parses the process arguments, runs the command, prints errors, returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let json = cli.global.json();
    init_logging(if json { 0 } else { cli.global.verbosity });
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if json {
                eprintln!(
                    "{}",
                    output::to_json(&output::error(&err.chain().join(": ")))
                );
            } else {
                eprint!("{}", render_error(&err));
            }
            ExitCode::from(err.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            let subs: Vec<_> = cmd
                .get_subcommands()
                .filter(|s| s.get_name() != "help")
                .collect();
            if subs.is_empty() {
                let has = cmd
                    .get_after_help()
                    .is_some_and(|h| h.to_string().contains("odo "));
                if !has {
                    missing.push(path.clone());
                }
            }
            for s in subs {
                walk(s, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(
            missing.is_empty(),
            "commands without an example: {missing:?}"
        );
    }
}
