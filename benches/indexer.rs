//! Indexer throughput (files/s) on deterministic generated trees of 1k, 10k and 100k files.
//!
//! Per size, in one run: the floor (a parallel walk that only stats every entry, with the same
//! walker configuration as the indexer), a full index (no previous index; scan + write), a
//! no-change re-index, 1 file changed, 1% changed, 1% deleted (re-index = read the index, walk,
//! compare; nothing written). Trees are generated once per size outside the measured loops and
//! flushed (`sync`) before the first one, so the kernel's writeback of 100k fresh files does not
//! land inside whichever loop runs first (the floor).
//! `ODO_BENCH_SIZES=1000,10000` limits the sizes.

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ignore::WalkState;
use odo::indexer::testtree::{self, generate};
use odo::indexer::{Changes, FileIndex, IgnoreConfig, pending_changes, scan::walker, write_index};

fn sizes() -> Vec<usize> {
    std::env::var("ODO_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000])
}

/// The floor: walk in parallel and `lstat` every entry, nothing else.
fn stat_walk(root: &Path) -> u64 {
    let count = AtomicU64::new(0);
    walker(root, 0).build_parallel().run(|| {
        Box::new(|e| {
            if let Ok(e) = e
                && e.metadata().is_ok()
            {
                count.fetch_add(1, Ordering::Relaxed);
            }
            WalkState::Continue
        })
    });
    count.into_inner()
}

/// Waits until dirty data is written back (`sync`); a failure only makes the numbers noisier.
fn flush_to_disk() {
    match std::process::Command::new("sync").status() {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("sync exited with {s}; timings may include writeback"),
        Err(e) => eprintln!("cannot run sync ({e}); timings may include writeback"),
    }
}

fn reindex(root: &Path) -> Changes {
    match pending_changes(root, &IgnoreConfig::default()) {
        Ok(c) => c,
        Err(e) => panic!("re-index failed: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let cfg = IgnoreConfig::default();
    for n in sizes() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("temp dir: {e}"),
        };
        let root = dir.path();
        if let Err(e) = generate(root, n) {
            panic!("generating {n} files: {e}");
        }
        flush_to_disk();
        let mut g = c.benchmark_group(format!("indexer_{n}"));
        g.throughput(Throughput::Elements(n as u64));
        if n >= 100_000 {
            g.sample_size(10);
        } else if n >= 10_000 {
            g.sample_size(20);
        }

        g.bench_function("floor_stat_walk", |b| b.iter(|| black_box(stat_walk(root))));

        g.bench_function("full_index", |b| {
            b.iter_batched(
                || {
                    let _ = std::fs::remove_file(odo::indexer::index_path(root));
                },
                |()| black_box(write_index(root, &cfg).map(|c| c.added.len())),
                BatchSize::PerIteration,
            )
        });
        if let Err(e) = write_index(root, &cfg) {
            panic!("writing the index: {e}");
        }
        assert!(reindex(root).is_empty(), "tree unchanged after indexing");

        match FileIndex::read(root) {
            Ok(idx) => eprintln!(
                "indexer_{n}: loaded index holds {} bytes/file beyond the path bytes",
                idx.heap_bytes_per_entry()
            ),
            Err(e) => panic!("reading the index: {e}"),
        }

        g.bench_function("reindex_no_change", |b| b.iter(|| black_box(reindex(root))));

        let one = testtree::spread(n, 1);
        for &i in &one {
            testtree::write_file(root, i, 1).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(reindex(root).modified.len(), 1);
        g.bench_function("reindex_1_changed", |b| b.iter(|| black_box(reindex(root))));
        for &i in &one {
            testtree::write_file(root, i, 0).unwrap_or_else(|e| panic!("{e}"));
        }

        let pct = testtree::spread(n, n / 100);
        for &i in &pct {
            testtree::write_file(root, i, 1).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(reindex(root).modified.len(), pct.len());
        g.bench_function("reindex_1pct_changed", |b| {
            b.iter(|| black_box(reindex(root)))
        });
        for &i in &pct {
            testtree::write_file(root, i, 0).unwrap_or_else(|e| panic!("{e}"));
        }

        for &i in &pct {
            std::fs::remove_file(root.join(testtree::file_path(i)))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(reindex(root).deleted.len(), pct.len());
        g.bench_function("reindex_1pct_deleted", |b| {
            b.iter(|| black_box(reindex(root)))
        });
        for &i in &pct {
            testtree::write_file(root, i, 0).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(reindex(root).is_empty(), "tree restored");
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
