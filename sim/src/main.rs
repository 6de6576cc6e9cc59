//! The `odo-sim` binary: serve the simulated cluster over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod fault_cmd;

use clap::{Parser, Subcommand};
use odo_sim::server::{self, kubeconfig_with_users, write_atomic};
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
        after_help = "Examples:\n  odo-sim serve --addr 127.0.0.1:0 --kubeconfig /tmp/sim.kubeconfig\n  KUBECONFIG=/tmp/sim.kubeconfig kubectl get namespaces\n\n  # keep objects across restarts\n  odo-sim serve --state ~/.local/state/odo-sim\n\n  # an OpenShift cluster with two users; each sees only the projects it requested\n  odo-sim serve --flavor openshift --token admintoken --token-user t1=alice --token-user t2=bob\n  export KUBECONFIG=odo-sim.kubeconfig; kubectl config use-context odo-sim-alice; odo project list\n\n  # without tokens every request is the admin system:admin, who may act as any user\n  odo-sim serve --flavor openshift\n  kubectl --as=alice get projects"
    )]
    Serve(ServeArgs),
    /// Inject a fault into a running `odo-sim serve`.
    Fault(fault_cmd::FaultArgs),
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
    /// Require a bearer token on every request; this one is the admin `kube:admin`, who sees
    /// every project (written into the kubeconfig's `odo-sim` context).
    #[arg(long, env = "ODO_SIM_TOKEN")]
    token: Option<String>,
    /// One more token and the user it authenticates (repeatable), e.g. `--token-user
    /// a1b2=alice`: on the openshift flavor a user lists only the projects it requested.
    /// The kubeconfig gets a context `odo-sim-USER` for each (for kube-rs clients and odo;
    /// kubectl sends no bearer token over plain HTTP, so with tokens it is refused: serve
    /// without tokens and use `kubectl --as=USER`); without --token, the `odo-sim` context
    /// uses the first.
    #[arg(long, value_name = "TOKEN=USER", value_parser = parse_token_user)]
    token_user: Vec<(String, String)>,
    /// What runs containers: `real` runs them in simulated filesystems with the image
    /// catalogue and a shell (logs, exec, port-forward work); `scripted` only reads each
    /// container's command to decide when it exits (no processes, no logs).
    #[arg(long, default_value = "real", value_parser = ["real", "scripted"])]
    runtime: String,
    /// Fail to pull images that are not in the catalogue (ErrImagePull, then
    /// ImagePullBackOff) instead of running them on the busybox base, as a cluster without
    /// access to their registry does.
    #[arg(long)]
    strict_images: bool,
    /// Exit once the server answers (for scripts and the quick start).
    #[arg(long)]
    exit_after_ready: bool,
    /// Run virtual time this many times faster than the wall clock (10: a 5-minute
    /// CrashLoopBackOff delay passes in 30 s; 0.5: half speed).
    #[arg(long, default_value_t = 1.0, value_parser = parse_time_scale, value_name = "FACTOR")]
    time_scale: f64,
}

fn parse_token_user(s: &str) -> Result<(String, String), String> {
    let (token, user) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not TOKEN=USER; use e.g. a1b2=alice"))?;
    // The same checks as the server's, so a bad pair fails here, with its position.
    odo_sim::api::auth::Users::default().add(token, user)?;
    Ok((token.to_string(), user.to_string()))
}

fn parse_time_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number; use e.g. 1, 10 or 0.5"))?;
    if v.is_finite() && v > 0.0 && v <= 10_000.0 {
        Ok(v)
    } else {
        Err(format!(
            "{s} is out of range; the time scale must be above 0 and at most 10000"
        ))
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let flavor: Flavor = args.flavor.parse().map_err(anyhow::Error::msg)?;
    let mut builder = Sim::builder()
        .seed(args.seed)
        .nodes(args.nodes)
        .flavor(flavor)
        .time_mode(odo_sim::clock::TimeMode::RealTime {
            scale: args.time_scale,
        });
    if let Some(dir) = &args.state {
        builder = builder.state_dir(dir);
    }
    if let Some(t) = &args.token {
        builder = builder.token(t);
    }
    let mut users = odo_sim::api::auth::Users::default();
    for (token, user) in &args.token_user {
        if args.token.as_deref() == Some(token.as_str()) {
            anyhow::bail!("--token-user {token}={user}: that token is --token's (kube:admin)");
        }
        users
            .add(token, user)
            .map_err(|e| anyhow::anyhow!("--token-user {token}={user}: {e}"))?;
    }
    builder = builder.users(users);
    if args.strict_images && args.runtime != "real" {
        anyhow::bail!("--strict-images needs --runtime real: the scripted runtime pulls no images");
    }
    builder = if args.runtime == "real" {
        let mut catalogue = odo_sim::runtime::Catalogue::builtin()?;
        catalogue.strict = args.strict_images;
        builder.real_runtime(catalogue)
    } else {
        builder.scripted_runtime()
    };
    let sim = builder.build()?;
    let bound = server::bind(args.addr, args.allow_remote).await?;
    let addr = bound.addr;
    let doc = kubeconfig_with_users(addr, args.token.as_deref(), &args.token_user);
    write_atomic(&args.kubeconfig, &doc).map_err(|source| server::ServeError::Kubeconfig {
        path: args.kubeconfig.clone(),
        source,
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
        Command::Fault(args) => runtime.block_on(fault_cmd::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time_scale;

    #[test]
    fn token_users_are_token_equals_user() {
        assert_eq!(
            super::parse_token_user("a1=alice"),
            Ok(("a1".into(), "alice".into()))
        );
        assert!(
            super::parse_token_user("alice")
                .unwrap_err()
                .contains("TOKEN=USER")
        );
        assert!(super::parse_token_user("=alice").is_err());
        assert!(super::parse_token_user("a1=").is_err());
    }

    #[test]
    fn time_scale_must_be_a_positive_bounded_number() {
        assert_eq!(parse_time_scale("10"), Ok(10.0));
        assert_eq!(parse_time_scale("0.5"), Ok(0.5));
        for bad in ["0", "-1", "inf", "NaN", "20000"] {
            let err = parse_time_scale(bad).unwrap_err();
            assert!(err.contains("out of range"), "{bad}: {err}");
        }
        assert!(
            parse_time_scale("fast")
                .unwrap_err()
                .contains("not a number")
        );
    }
}
