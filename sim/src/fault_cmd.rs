//! `odo-sim fault ...`: injects a fault into a running `odo-sim serve`, found through its
//! kubeconfig, by posting it to the simulator's control endpoint with kube-rs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use odo_sim::admin::FAULTS_PATH;
use odo_sim::faults::Fault;

const EXAMPLES: &str = "Examples:
  # The node goes NotReady after 40 s; its pods are evicted 300 s later
  odo-sim fault --kubeconfig odo-sim.kubeconfig node-down sim-node-1

  # Half of the pod lists fail with 503, then heal
  odo-sim fault api-errors --resource pods --verb list --code 503 --rate 0.5
  odo-sim fault clear-api-faults

  # Any fault as JSON (the same shape Sim::inject takes)
  odo-sim fault json '{\"type\": \"KillContainer\", \"namespace\": \"default\", \"pod\": \"web\"}'";

/// `odo-sim fault`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct FaultArgs {
    /// Kubeconfig of the served simulator (default: KUBECONFIG, then odo-sim.kubeconfig).
    #[arg(long, global = true)]
    kubeconfig: Option<PathBuf>,
    /// The fault.
    #[command(subcommand)]
    fault: FaultCommand,
}

#[derive(Debug, Subcommand)]
enum FaultCommand {
    /// A container (all running containers when --container is absent) exits with 137.
    KillContainer {
        /// Pod name.
        pod: String,
        /// Namespace of the pod.
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// Container name.
        #[arg(long, short = 'c')]
        container: Option<String>,
        /// Report the exit as OOMKilled.
        #[arg(long)]
        oom: bool,
    },
    /// Deletes a pod as `kubectl delete pod` would.
    DeletePod {
        /// Pod name.
        pod: String,
        /// Namespace of the pod.
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
    },
    /// The node's kubelet stops.
    NodeDown {
        /// Node name (sim-node-1, sim-node-2, ...).
        node: String,
    },
    /// The node's kubelet comes back.
    NodeUp {
        /// Node name.
        node: String,
    },
    /// Pulls of an image fail until healed with --heal.
    ImagePullFailure {
        /// Image reference, exactly as in the pod spec.
        image: String,
        /// Heal the fault.
        #[arg(long)]
        heal: bool,
    },
    /// A share of API requests fail with an HTTP status.
    ApiErrors {
        /// HTTP status (500, 503, 429, 504, 409 ...).
        #[arg(long)]
        code: u16,
        /// Probability per request, 0.0 to 1.0.
        #[arg(long)]
        rate: f64,
        /// Only this verb (get, list, watch, create, update, patch, delete).
        #[arg(long)]
        verb: Option<String>,
        /// Only this resource (plural, e.g. pods).
        #[arg(long)]
        resource: Option<String>,
    },
    /// API requests are delayed.
    ApiLatency {
        /// Delay per request in milliseconds.
        #[arg(long)]
        millis: u64,
        /// Only this verb.
        #[arg(long)]
        verb: Option<String>,
        /// Only this resource.
        #[arg(long)]
        resource: Option<String>,
    },
    /// Removes every API error and latency rule.
    ClearApiFaults,
    /// Closes every open watch.
    WatchDrop,
    /// A claim's volume is full (writes fail with ENOSPC) until freed with --free.
    DiskFull {
        /// Claim name.
        claim: String,
        /// Namespace of the claim.
        #[arg(long, short = 'n', default_value = "default")]
        namespace: String,
        /// Free the volume.
        #[arg(long)]
        free: bool,
    },
    /// Any fault as JSON, e.g. '{"type": "NodeDown", "node": "sim-node-1"}'.
    Json {
        /// The fault document.
        document: String,
    },
}

impl FaultCommand {
    fn into_fault(self) -> anyhow::Result<Fault> {
        Ok(match self {
            FaultCommand::KillContainer {
                pod,
                namespace,
                container,
                oom,
            } => Fault::KillContainer {
                namespace,
                pod,
                container,
                oom,
            },
            FaultCommand::DeletePod { pod, namespace } => Fault::DeletePod { namespace, pod },
            FaultCommand::NodeDown { node } => Fault::NodeDown { node },
            FaultCommand::NodeUp { node } => Fault::NodeUp { node },
            FaultCommand::ImagePullFailure { image, heal } => Fault::ImagePullFailure {
                image,
                active: !heal,
            },
            FaultCommand::ApiErrors {
                code,
                rate,
                verb,
                resource,
            } => Fault::ApiErrors {
                verb,
                resource,
                code,
                rate,
            },
            FaultCommand::ApiLatency {
                millis,
                verb,
                resource,
            } => Fault::ApiLatency {
                verb,
                resource,
                latency: Duration::from_millis(millis),
            },
            FaultCommand::ClearApiFaults => Fault::ClearApiFaults,
            FaultCommand::WatchDrop => Fault::WatchDrop,
            FaultCommand::DiskFull {
                claim,
                namespace,
                free,
            } => Fault::DiskFull {
                namespace,
                claim,
                full: !free,
            },
            FaultCommand::Json { document } => serde_json::from_str(&document).map_err(|e| {
                anyhow::anyhow!(
                    "{document:?} is not a fault: {e}; see `odo-sim fault --help` for the shapes"
                )
            })?,
        })
    }
}

/// Runs `odo-sim fault`.
pub async fn run(args: FaultArgs) -> anyhow::Result<()> {
    let fault = args.fault.into_fault()?;
    let path = args
        .kubeconfig
        .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("odo-sim.kubeconfig"));
    let kc = kube::config::Kubeconfig::read_from(&path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the kubeconfig {}: {e}; pass the one `odo-sim serve --kubeconfig` wrote",
            path.display()
        )
    })?;
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await?;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)?;
    let request = http::Request::post(FAULTS_PATH)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&fault)?)?;
    let status: serde_json::Value = client.request(request).await.map_err(|e| match e {
        kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound" => {
            anyhow::anyhow!("{}", s.message)
        }
        other => anyhow::anyhow!("cannot inject the fault at {server}: {other}"),
    })?;
    println!(
        "{}",
        status
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("injected")
    );
    Ok(())
}
