//! Maps for state that is only looked up, never walked in an order that reaches behaviour.
//!
//! The simulator keeps its state in ordered collections so that a seed replays a run
//! exactly. Some maps are only ever asked "what is under this key" (the kubelet's per-pod
//! runtime state, the recorders' correlation records, the work queue's dedupe set); keyed
//! by object keys, a `BTreeMap` pays a string comparison per step of its search, and object
//! keys share long prefixes (`default`/`web-5d8f7c9b4-...`), so those comparisons were a
//! fifth of a 10,000-pod rollout.
//!
//! [`LookupMap`] orders its entries by a fixed hash of the key instead (SipHash with zero
//! keys): a search compares `u64`s, and the one key comparison happens at the end. It is
//! still a B-tree, not a hash table: a `HashMap` of 50,000 entries grows by reallocating one
//! table of megabytes, and freeing such blocks makes glibc raise its mmap threshold for the
//! rest of the process, which doubled the time to free a large simulator afterwards. The
//! order of a [`LookupMap::retain`] walk is the hash order, the same in every run.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

fn hash_of<Q: Hash + ?Sized>(key: &Q) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// The entries whose keys share one hash: almost always one.
#[derive(Debug, Clone)]
enum Slot<K, V> {
    One(K, V),
    Many(Vec<(K, V)>),
}

/// A map that is only looked up (see the module doc).
#[derive(Debug, Clone)]
pub struct LookupMap<K, V> {
    tree: BTreeMap<u64, Slot<K, V>>,
}

impl<K, V> Default for LookupMap<K, V> {
    fn default() -> Self {
        Self {
            tree: BTreeMap::new(),
        }
    }
}

impl<K: Hash + Eq, V> LookupMap<K, V> {
    /// Entries held (for tests: counting walks the map).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether no entry is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The value under `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.tree.get(&hash_of(key))? {
            Slot::One(k, v) => (k.borrow() == key).then_some(v),
            Slot::Many(items) => items.iter().find(|(k, _)| k.borrow() == key).map(|e| &e.1),
        }
    }

    /// The value under `key`, to change.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.tree.get_mut(&hash_of(key))? {
            Slot::One(k, v) => ((*k).borrow() == key).then_some(v),
            Slot::Many(items) => items
                .iter_mut()
                .find(|(k, _)| (*k).borrow() == key)
                .map(|e| &mut e.1),
        }
    }

    /// Whether `key` is held.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Puts `value` under `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        use std::collections::btree_map::Entry;
        match self.tree.entry(hash_of(&key)) {
            Entry::Vacant(e) => {
                e.insert(Slot::One(key, value));
                None
            }
            Entry::Occupied(mut e) => {
                let slot = e.get_mut();
                if let Slot::One(k, v) = slot {
                    if *k == key {
                        return Some(std::mem::replace(v, value));
                    }
                    let Slot::One(k, v) = std::mem::replace(slot, Slot::Many(Vec::new())) else {
                        unreachable!("matched as One above")
                    };
                    *slot = Slot::Many(vec![(k, v)]);
                }
                let Slot::Many(items) = slot else {
                    unreachable!("made Many above")
                };
                if let Some(e) = items.iter_mut().find(|(k, _)| *k == key) {
                    return Some(std::mem::replace(&mut e.1, value));
                }
                items.push((key, value));
                None
            }
        }
    }

    /// Takes the value under `key` out.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        use std::collections::btree_map::Entry;
        let Entry::Occupied(mut e) = self.tree.entry(hash_of(key)) else {
            return None;
        };
        match e.get_mut() {
            Slot::One(k, _) if (*k).borrow() == key => match e.remove() {
                Slot::One(_, v) => Some(v),
                Slot::Many(_) => unreachable!("matched as One above"),
            },
            Slot::One(..) => None,
            Slot::Many(items) => {
                let i = items.iter().position(|(k, _)| k.borrow() == key)?;
                let (_, v) = items.swap_remove(i);
                if items.is_empty() {
                    e.remove();
                }
                Some(v)
            }
        }
    }

    /// The entries in hash order (the same in every run, but no order of the keys: sort
    /// what is collected from it where the order reaches behaviour).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.tree.values().flat_map(|slot| {
            let (one, many) = match slot {
                Slot::One(k, v) => (Some((k, v)), None),
                Slot::Many(items) => (None, Some(items.iter().map(|(k, v)| (k, v)))),
            };
            one.into_iter().chain(many.into_iter().flatten())
        })
    }

    /// Keeps the entries `keep` says yes to, visiting them in hash order.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.tree.retain(|_, slot| match slot {
            Slot::One(k, v) => keep(k, v),
            Slot::Many(items) => {
                items.retain_mut(|(k, v)| keep(k, v));
                !items.is_empty()
            }
        });
    }
}

/// A set that is only asked for membership (see the module doc).
#[derive(Debug, Clone)]
pub struct LookupSet<K>(LookupMap<K, ()>);

impl<K> Default for LookupSet<K> {
    fn default() -> Self {
        Self(LookupMap::default())
    }
}

impl<K: Hash + Eq> LookupSet<K> {
    /// Adds `key`; false when it was there already.
    pub fn insert(&mut self, key: K) -> bool {
        self.0.insert(key, ()).is_none()
    }

    /// Takes `key` out; false when it was not there.
    pub fn remove<Q>(&mut self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.remove(key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::hash::{Hash, Hasher};

    use proptest::prelude::*;

    use super::LookupMap;

    /// A key whose hash is its value modulo 4, so that many keys share a slot.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Colliding(u8);

    impl Hash for Colliding {
        fn hash<H: Hasher>(&self, state: &mut H) {
            (self.0 % 4).hash(state);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        Get(u8),
        Bump(u8),
        RetainEven,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..24, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..24).prop_map(Op::Remove),
            (0u8..24).prop_map(Op::Get),
            (0u8..24).prop_map(Op::Bump),
            Just(Op::RetainEven),
        ]
    }

    proptest! {
        /// Against `HashMap`, with colliding and with ordinary keys: every answer and the
        /// length agree after every operation.
        #[test]
        fn behaves_as_a_hash_map(ops in proptest::collection::vec(op(), 0..200)) {
            let mut colliding: LookupMap<Colliding, u32> = LookupMap::default();
            let mut plain: LookupMap<String, u32> = LookupMap::default();
            let mut model: HashMap<u8, u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let m = model.insert(k, v);
                        prop_assert_eq!(colliding.insert(Colliding(k), v), m);
                        prop_assert_eq!(plain.insert(k.to_string(), v), m);
                    }
                    Op::Remove(k) => {
                        let m = model.remove(&k);
                        prop_assert_eq!(colliding.remove(&Colliding(k)), m);
                        prop_assert_eq!(plain.remove(k.to_string().as_str()), m);
                    }
                    Op::Get(k) => {
                        let m = model.get(&k).copied();
                        prop_assert_eq!(colliding.get(&Colliding(k)).copied(), m);
                        prop_assert_eq!(plain.get(k.to_string().as_str()).copied(), m);
                        prop_assert_eq!(plain.contains_key(k.to_string().as_str()), m.is_some());
                    }
                    Op::Bump(k) => {
                        if let Some(v) = model.get_mut(&k) {
                            *v = v.wrapping_add(1);
                        }
                        if let Some(v) = colliding.get_mut(&Colliding(k)) {
                            *v = v.wrapping_add(1);
                        }
                        if let Some(v) = plain.get_mut(k.to_string().as_str()) {
                            *v = v.wrapping_add(1);
                        }
                    }
                    Op::RetainEven => {
                        model.retain(|_, v| *v % 2 == 0);
                        colliding.retain(|_, v| *v % 2 == 0);
                        plain.retain(|_, v| *v % 2 == 0);
                    }
                }
                prop_assert_eq!(colliding.len(), model.len());
                prop_assert_eq!(plain.len(), model.len());
                prop_assert_eq!(plain.is_empty(), model.is_empty());
            }
            for (k, v) in &model {
                prop_assert_eq!(colliding.get(&Colliding(*k)), Some(v));
            }
            let mut seen: Vec<(u8, u32)> = colliding.iter().map(|(k, v)| (k.0, *v)).collect();
            let mut want: Vec<(u8, u32)> = model.into_iter().collect();
            seen.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(seen, want);
        }
    }
}
