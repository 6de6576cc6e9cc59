//! Hash maps for state that is only looked up, never walked in an order that reaches
//! behaviour.
//!
//! The simulator keeps its state in ordered collections so that a seed replays a run
//! exactly. Some maps are only ever asked "what is under this key" (the kubelet's per-pod
//! runtime state, the recorders' correlation records, the work queue's dedupe set); for
//! those a `BTreeMap` pays a string comparison per tree level (object keys share long
//! prefixes such as `default`/`web-5d8f7c9b4-`) where a hash needs one pass over the key.
//!
//! The hasher is SipHash with fixed keys, so even an iteration (a `retain`, a `len`) sees
//! the same order in every run: nothing here depends on the process's random state. Iterate
//! one of these maps only where the order cannot matter.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

/// A deterministic hasher (SipHash-1-3 with zero keys).
pub type FixedState = BuildHasherDefault<DefaultHasher>;

/// A map that is only looked up (see the module doc).
pub type LookupMap<K, V> = HashMap<K, V, FixedState>;

/// A set that is only asked for membership (see the module doc).
pub type LookupSet<K> = HashSet<K, FixedState>;
