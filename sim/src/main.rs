//! The `odo-sim` binary: serve the simulated cluster over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use odo_sim::server::{self, kubeconfig, write_atomic};
use odo_sim::{Flavor, Sim};

/// An in-memory Kubernetes API server and cluster simulator.
#[derive(Debug, Parser)]
#[command(name = "odo-sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the simulated cluster over HTTP and write a kubeconfig for it.
    #[command(
        after_help = "Examples:\n  odo-sim serve --addr 127.0.0.1:0 --kubeconfig /tmp/sim.kubeconfig\n  KUBECONFIG=/tmp/sim.kubeconfig kubectl get namespaces\n\n  # keep objects across restarts\n  odo-sim serve --state ~/.local/state/odo-sim"
    )]
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:6443")]
    addr: SocketAddr,
    /// Where to write the kubeconfig (cluster, user and context `odo-sim`).
    #[arg(long, default_value = "odo-sim.kubeconfig")]
    kubeconfig: PathBuf,
    /// Keep every acknowledged write in this directory (survives restarts and kill -9).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Which cluster to pretend to be.
    #[arg(long, default_value = "kubernetes", value_parser = ["kubernetes", "openshift"])]
    flavor: String,
    /// Seed for every random choice (UIDs, generated names, IPs).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of nodes.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Listen on a non-loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Require this bearer token (written into the kubeconfig).
    #[arg(long, env = "ODO_SIM_TOKEN")]
    token: Option<String>,
    /// What runs containers: `real` runs them in simulated filesystems with the image
    /// catalogue and a shell (logs, exec, port-forward work); `scripted` only reads each
    /// container's command to decide when it exits (no processes, no logs).
    #[arg(long, default_value = "real", value_parser = ["real", "scripted"])]
    runtime: String,
    /// Exit once the server answers (for scripts and the quick start).
    #[arg(long)]
    exit_after_ready: bool,
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let flavor: Flavor = args.flavor.parse().map_err(anyhow::Error::msg)?;
    let mut builder = Sim::builder()
        .seed(args.seed)
        .nodes(args.nodes)
        .flavor(flavor)
        .real_time(true);
    if let Some(dir) = &args.state {
        builder = builder.state_dir(dir);
    }
    if let Some(t) = &args.token {
        builder = builder.token(t);
    }
    builder = if args.runtime == "real" {
        builder.real_runtime(odo_sim::runtime::Catalogue::builtin()?)
    } else {
        builder.scripted_runtime()
    };
    let sim = builder.build()?;
    let bound = server::bind(args.addr, args.allow_remote).await?;
    let addr = bound.addr;
    write_atomic(&args.kubeconfig, &kubeconfig(addr, args.token.as_deref())).map_err(|source| {
        server::ServeError::Kubeconfig {
            path: args.kubeconfig.clone(),
            source,
        }
    })?;
    println!(
        "odo-sim serving a {flavor} cluster on http://{addr} (kubeconfig: {}, context odo-sim)",
        args.kubeconfig.display()
    );
    if args.exit_after_ready {
        tokio::spawn(server::serve(sim, bound));
        let kc = kube::config::Kubeconfig::read_from(&args.kubeconfig)?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await?;
        let client = kube::Client::try_from(config)?;
        let v = client.apiserver_version().await?;
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
        let n = nodes
            .list(&kube::api::ListParams::default())
            .await?
            .items
            .len();
        println!("ready: Kubernetes {} over HTTP, {n} node(s)", v.git_version);
        return Ok(());
    }
    server::serve(sim, bound).await?;
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
