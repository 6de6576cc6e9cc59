//! Comparing traces from two backends: normalisation (namespace, generated name suffixes,
//! UIDs, IPs, times) and a line diff of the normalised traces that says where they differ.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::Trace;

/// Regexes applied to every string, in order, with their replacements.
static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let rules = [
        (
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "<uid>",
        ),
        (
            r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "<time>",
        ),
        (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "<ip>"),
        // Generated name suffixes (generateName, pod-template-hash) use this alphabet.
        (r"-[bcdfghjklmnpqrstvwxz2456789]{5,10}\b", "-<gen>"),
    ];
    rules
        .into_iter()
        .filter_map(|(re, with)| Regex::new(re).ok().map(|r| (r, with)))
        .collect()
});

/// Normalises one string: the namespace becomes `<ns>`, then [`RULES`] apply.
pub fn normalise_str(s: &str, namespace: &str) -> String {
    let mut out = match Regex::new(&format!(r"\b{}\b", regex::escape(namespace))) {
        Ok(re) if !namespace.is_empty() => re.replace_all(s, "<ns>").into_owned(),
        _ => s.to_string(),
    };
    for (re, with) in RULES.iter() {
        out = re.replace_all(&out, *with).into_owned();
    }
    out
}

/// Normalises every string (and object key) in a JSON value.
pub fn normalise_value(v: &Value, namespace: &str) -> Value {
    match v {
        Value::String(s) => Value::String(normalise_str(s, namespace)),
        Value::Array(a) => Value::Array(a.iter().map(|x| normalise_value(x, namespace)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (normalise_str(k, namespace), normalise_value(x, namespace)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A trace with names, UIDs, IPs and times normalised. Objects whose names normalise to the
/// same key (the pods of one ReplicaSet) are numbered `#1..` in a canonical order of their
/// state sequences, so that pod identity does not matter, only what happened to the pods.
pub fn normalise(t: &Trace) -> Trace {
    let ns = t.namespace.as_str();
    let mut groups: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    for (key, states) in &t.objects {
        let states = states.iter().map(|s| normalise_value(s, ns)).collect();
        groups
            .entry(normalise_str(key, ns))
            .or_default()
            .push(states);
    }
    let mut objects = BTreeMap::new();
    for (key, mut seqs) in groups {
        if seqs.len() == 1 {
            objects.insert(key, seqs.remove(0));
            continue;
        }
        seqs.sort_by_key(|s| serde_json::to_string(s).unwrap_or_default());
        for (i, seq) in seqs.into_iter().enumerate() {
            objects.insert(format!("{key}#{}", i + 1), seq);
        }
    }
    Trace {
        scenario: t.scenario.clone(),
        backend: t.backend.clone(),
        namespace: "<ns>".into(),
        outcome: normalise_str(&t.outcome, ns),
        steps: t.steps.iter().map(|s| normalise_value(s, ns)).collect(),
        objects,
    }
}

/// The comparable lines of a (normalised) trace.
pub fn lines(t: &Trace) -> Vec<String> {
    let mut out = vec![format!("outcome: {}", t.outcome)];
    for s in &t.steps {
        out.push(format!("log {}", compact(s)));
    }
    for (key, states) in &t.objects {
        for (i, s) in states.iter().enumerate() {
            out.push(format!("{key} [{i}] {}", compact(s)));
        }
    }
    out
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    /// In both.
    Same(String),
    /// Only in the first (left) trace.
    Left(String),
    /// Only in the second (right) trace.
    Right(String),
}

/// The longest-common-subsequence diff of two line lists.
pub fn diff_lines(a: &[String], b: &[String]) -> Vec<DiffLine> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(DiffLine::Same(a[i].clone()));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(DiffLine::Right(b[j].clone()));
            j += 1;
        } else {
            out.push(DiffLine::Left(a[i].clone()));
            i += 1;
        }
    }
    out
}

/// Compares two traces after normalisation; `None` when they agree, else a report with the
/// differing lines (prefixed by the backend names) and one line of context around them.
pub fn compare(left: &Trace, right: &Trace) -> Option<String> {
    let (l, r) = (lines(&normalise(left)), lines(&normalise(right)));
    let d = diff_lines(&l, &r);
    if d.iter().all(|x| matches!(x, DiffLine::Same(_))) {
        return None;
    }
    let width = left.backend.len().max(right.backend.len());
    let mut out = String::new();
    let mut last_printed: Option<usize> = None;
    for (i, line) in d.iter().enumerate() {
        let near_change = |k: usize| d.get(k).is_some_and(|x| !matches!(x, DiffLine::Same(_)));
        let show = match line {
            DiffLine::Same(_) => near_change(i + 1) || (i > 0 && near_change(i - 1)),
            _ => true,
        };
        if !show {
            continue;
        }
        if last_printed.is_some_and(|p| p + 1 != i) {
            out.push_str("  ...\n");
        }
        last_printed = Some(i);
        let (tag, text) = match line {
            DiffLine::Same(t) => ("", t),
            DiffLine::Left(t) => (left.backend.as_str(), t),
            DiffLine::Right(t) => (right.backend.as_str(), t),
        };
        out.push_str(&format!("{tag:>width$} | {text}\n"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_lose_names_uids_ips_and_times() {
        let ns = "e2e-rs-self-heal-4k2x";
        assert_eq!(
            normalise_str("pod frontend-1-x7k2p in e2e-rs-self-heal-4k2x", ns),
            "pod frontend-1-<gen> in <ns>"
        );
        assert_eq!(
            normalise_str("web-6d4cf56db6-2xq9z", ""),
            "web-<gen>-<gen>",
            "deployment hash and pod suffix"
        );
        assert_eq!(
            normalise_str(
                "uid 0f8fad5b-d9cb-469f-a165-70867728950e at 10.244.0.12",
                ""
            ),
            "uid <uid> at <ip>"
        );
        assert_eq!(
            normalise_str(
                "since 2026-01-01T00:00:05Z and 2025-11-22T02:38:31.123+00:00",
                ""
            ),
            "since <time> and <time>"
        );
        // Names a user wrote are kept: vowels, short or long words are not suffixes.
        assert_eq!(
            normalise_str("init-myservice app-config frontend-1", ""),
            "init-myservice app-config frontend-1"
        );
    }

    fn trace(backend: &str, ns: &str, pods: &[(&str, &[&str])]) -> Trace {
        Trace {
            scenario: "s".into(),
            backend: backend.into(),
            namespace: ns.into(),
            outcome: "passed".into(),
            steps: vec![json!({"step": format!("create rs in {ns}")})],
            objects: pods
                .iter()
                .map(|(name, states)| {
                    (
                        format!("Pod/{name}"),
                        states.iter().map(|s| json!({"phase": s})).collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn same_behaviour_under_other_names_compares_equal() {
        let kind = trace(
            "kind",
            "e2e-s-abc1",
            &[
                ("rs-2xq9z", &["Pending", "Running"]),
                ("rs-bbbbb", &["Pending"]),
            ],
        );
        let sim = trace(
            "sim",
            "e2e-s-zz99",
            &[
                ("rs-ccccc", &["Pending"]),
                ("rs-ddddd", &["Pending", "Running"]),
            ],
        );
        assert_eq!(compare(&kind, &sim), None);
        let n = normalise(&sim);
        assert_eq!(
            n.objects.keys().collect::<Vec<_>>(),
            ["Pod/rs-<gen>#1", "Pod/rs-<gen>#2"]
        );
    }

    #[test]
    fn differences_are_reported_with_the_backend_names() {
        let kind = trace("kind", "a", &[("p", &["Pending", "Running", "Succeeded"])]);
        let sim = trace("sim", "s", &[("p", &["Pending", "Failed"])]);
        let report = compare(&kind, &sim).expect("differs");
        assert!(
            report.contains("kind | Pod/p [1] {\"phase\":\"Running\"}"),
            "{report}"
        );
        assert!(
            report.contains("kind | Pod/p [2] {\"phase\":\"Succeeded\"}"),
            "{report}"
        );
        assert!(
            report.contains(" sim | Pod/p [1] {\"phase\":\"Failed\"}"),
            "{report}"
        );
        assert!(
            report.contains("     | Pod/p [0] {\"phase\":\"Pending\"}"),
            "{report}"
        );
    }

    #[test]
    fn lcs_diff_is_minimal() {
        let a: Vec<String> = ["x", "a", "b", "c"].map(String::from).to_vec();
        let b: Vec<String> = ["a", "c", "d"].map(String::from).to_vec();
        let d = diff_lines(&a, &b);
        let same = d.iter().filter(|x| matches!(x, DiffLine::Same(_))).count();
        assert_eq!(same, 2);
        assert_eq!(d.len(), 5);
        assert_eq!(d[0], DiffLine::Left("x".into()));
        assert_eq!(d[4], DiffLine::Right("d".into()));
    }
}
