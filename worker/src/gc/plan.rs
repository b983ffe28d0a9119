//! Choosing what to remove: a pure function of the items, the options and the time.
//!
//! A snapshot's *effective* last use is the latest use in its subtree (itself and every
//! snapshot built on it), since using a child uses its parents. Selections are closed
//! under descendants, and the removal order puts children before their parents.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use super::scan::MAX_CHAIN_DEPTH;
use super::{GcOptions, ItemKind, UsageItem};

/// Indices into `items` to remove, in removal order.
pub(crate) fn plan(items: &[UsageItem], opts: &GcOptions, now: SystemTime) -> Vec<usize> {
    let tree = Tree::new(items);
    let candidate = |i: usize| {
        items.get(i).is_some_and(|it| {
            !it.pinned && (it.kind != ItemKind::CacheMount || opts.include_cache_mounts)
        })
    };
    let cutoff = opts.keep_duration.map(|d| now.checked_sub(d));
    let old = |i: usize| match cutoff {
        None => true,
        Some(None) => false, // longer than the clock goes back: nothing is that old
        Some(Some(c)) => tree.eff.get(i).is_some_and(|&t| t < c),
    };
    let n = items.len();
    let mut selected: HashSet<usize> = HashSet::new();
    if opts.all {
        selected.extend((0..n).filter(|&i| candidate(i) && old(i)));
    } else {
        if opts.keep_duration.is_some() {
            selected.extend((0..n).filter(|&i| candidate(i) && old(i)));
        }
        if let Some(keep) = opts.keep_bytes {
            let counted =
                |it: &&UsageItem| it.kind != ItemKind::CacheMount || opts.include_cache_mounts;
            let total: u64 = items.iter().filter(counted).map(|it| it.bytes).sum();
            let mut remaining = total.saturating_sub(bytes(items, &selected));
            let mut lru: Vec<usize> = (0..n)
                .filter(|&i| candidate(i) && !selected.contains(&i))
                .collect();
            lru.sort_by_key(|&i| (tree.eff.get(i).copied(), Reverse(tree.depth(i))));
            for i in lru {
                if remaining <= keep {
                    break;
                }
                for j in tree.subtree(i) {
                    if selected.insert(j) {
                        let b = items.get(j).map_or(0, |it| it.bytes);
                        remaining = remaining.saturating_sub(b);
                    }
                }
            }
        }
        if opts.keep_duration.is_none() && opts.keep_bytes.is_none() {
            selected.extend((0..n).filter(|&i| candidate(i) && !tree.referenced(items, i)));
        }
    }
    // Never leave a kept snapshot on a removed parent.
    let roots: Vec<usize> = selected.iter().copied().collect();
    for i in roots {
        selected.extend(tree.subtree(i));
    }
    let mut order: Vec<usize> = selected.into_iter().collect();
    order.sort_by_key(|&i| {
        let kind = items.get(i).map(|it| it.kind);
        (kind, Reverse(tree.depth(i)), tree.eff.get(i).copied(), i)
    });
    order
}

fn bytes(items: &[UsageItem], set: &HashSet<usize>) -> u64 {
    set.iter()
        .filter_map(|&i| items.get(i))
        .map(|it| it.bytes)
        .sum()
}

/// The snapshots' parent links, by index.
struct Tree {
    parent: Vec<Option<usize>>,
    children: HashMap<usize, Vec<usize>>,
    /// Effective last use (non-snapshots: their own).
    eff: Vec<SystemTime>,
}

impl Tree {
    fn new(items: &[UsageItem]) -> Tree {
        let by_id: HashMap<&str, usize> = items
            .iter()
            .enumerate()
            .filter(|(_, it)| it.kind == ItemKind::Snapshot)
            .map(|(i, it)| (it.id.as_str(), i))
            .collect();
        let parent: Vec<Option<usize>> = items
            .iter()
            .map(|it| match it.kind {
                ItemKind::Snapshot => it.parent.as_deref().and_then(|p| by_id.get(p).copied()),
                _ => None,
            })
            .collect();
        let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = p {
                children.entry(*p).or_default().push(i);
            }
        }
        let mut tree = Tree {
            parent,
            children,
            eff: items.iter().map(|it| it.last_used).collect(),
        };
        for (i, it) in items.iter().enumerate() {
            for a in tree.ancestors(i) {
                if let Some(e) = tree.eff.get_mut(a) {
                    *e = (*e).max(it.last_used);
                }
            }
        }
        tree
    }

    /// Strict ancestors of `i`, nearest first (bounded: a cycle ends the walk).
    fn ancestors(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut next = self.parent.get(i).copied().flatten();
        while let Some(p) = next {
            if p == i || out.len() >= MAX_CHAIN_DEPTH || out.contains(&p) {
                break;
            }
            out.push(p);
            next = self.parent.get(p).copied().flatten();
        }
        out
    }

    fn depth(&self, i: usize) -> usize {
        self.ancestors(i).len()
    }

    /// `i` and every descendant.
    fn subtree(&self, i: usize) -> Vec<usize> {
        let mut out = vec![i];
        let mut seen: HashSet<usize> = out.iter().copied().collect();
        let mut k = 0;
        while let Some(&j) = out.get(k) {
            for &c in self.children.get(&j).into_iter().flatten() {
                if seen.insert(c) {
                    out.push(c);
                }
            }
            k += 1;
        }
        out
    }

    /// Whether anything leads to `i` (a referenced snapshot's ancestors are referenced).
    fn referenced(&self, items: &[UsageItem], i: usize) -> bool {
        self.subtree(i)
            .iter()
            .any(|&j| items.get(j).is_some_and(|it| it.referenced))
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
