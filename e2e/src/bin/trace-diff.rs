//! `trace-diff`: compares the traces of the same scenarios on two backends (by default kind
//! and the simulator, under `target/e2e-traces/`), after normalising names, UIDs, IPs and
//! times, and prints where they differ. Exits 1 when any scenario differs, 2 on bad input.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use e2e::trace::{Trace, diff, traces_root};

/// Compare e2e traces of two backends.
#[derive(Debug, Parser)]
#[command(name = "trace-diff")]
struct Args {
    /// Directory of the reference traces (default: target/e2e-traces/kind).
    #[arg(long)]
    left: Option<PathBuf>,
    /// Directory of the traces to check (default: target/e2e-traces/sim).
    #[arg(long)]
    right: Option<PathBuf>,
    /// Only these scenarios.
    scenarios: Vec<String>,
}

fn names(dir: &Path) -> Result<BTreeSet<String>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read {}: {e} (run the suites first: cargo test -p e2e --test sim; ci/kind-e2e.sh)",
            dir.display()
        )
    })?;
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect())
}

fn run(args: Args) -> Result<bool, String> {
    let root = traces_root();
    let left = args.left.unwrap_or_else(|| root.join("kind"));
    let right = args.right.unwrap_or_else(|| root.join("sim"));
    let (l, r) = (names(&left)?, names(&right)?);
    let wanted: BTreeSet<String> = if args.scenarios.is_empty() {
        l.union(&r).cloned().collect()
    } else {
        args.scenarios.into_iter().collect()
    };
    let mut same = true;
    let (mut agree, mut differ, mut missing) = (0, 0, 0);
    for name in &wanted {
        match (l.contains(name), r.contains(name)) {
            (true, true) => {}
            (left_has, _) => {
                let dir = if left_has { &right } else { &left };
                println!("{name}: no trace in {}", dir.display());
                missing += 1;
                same = false;
                continue;
            }
        }
        let a = Trace::read_from(&left.join(format!("{name}.json")))?;
        let b = Trace::read_from(&right.join(format!("{name}.json")))?;
        match diff::compare(&a, &b) {
            None => {
                println!("{name}: same");
                agree += 1;
            }
            Some(report) => {
                println!("{name}: differs\n{report}");
                differ += 1;
                same = false;
            }
        }
    }
    println!("{agree} same, {differ} different, {missing} missing");
    Ok(same)
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("trace-diff: {e}");
            ExitCode::from(2)
        }
    }
}
