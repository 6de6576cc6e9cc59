//! `e2e-sim-serve`: serves a fresh simulator over HTTP and writes its kubeconfig; the
//! stand-in `kind` of the tests starts it for `kind create cluster`. It links odo-sim as a
//! library, so the tests get its path from Cargo without building another crate's binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Serve a simulated cluster for the stand-in kind.
#[derive(Debug, Parser)]
#[command(name = "e2e-sim-serve")]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Where to write the kubeconfig.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Seed of the simulator.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

async fn run(args: Args) -> anyhow::Result<()> {
    let sim = odo_sim::Sim::builder()
        .seed(args.seed)
        .real_time(true)
        .build()?;
    let bound = odo_sim::server::bind(args.addr, false).await?;
    let text = odo_sim::server::kubeconfig(bound.addr, None);
    odo_sim::server::write_atomic(&args.kubeconfig, &text).map_err(|e| {
        anyhow::anyhow!(
            "cannot write the kubeconfig {}: {e}",
            args.kubeconfig.display()
        )
    })?;
    eprintln!("e2e-sim-serve: serving on {}", bound.addr);
    odo_sim::server::serve(sim, bound).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2e-sim-serve: {e:#}");
            ExitCode::FAILURE
        }
    }
}
