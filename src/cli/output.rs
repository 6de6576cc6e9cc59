//! What odo prints: the `-o json` machine shapes (apiVersion `odo.dev/v1alpha1`; kinds Component,
//! List, url, storage, Project, Application, Error; tab-indented as odo prints them) and plain
//! tables for humans.

use serde::Serialize;
use serde_json::{Value, json};

/// apiVersion of every machine-readable document.
pub const API_VERSION: &str = "odo.dev/v1alpha1";

/// Output format chosen with `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// odo's JSON shapes.
    Json,
}

/// Serializes as odo does: tab-indented JSON.
pub fn to_json<T: Serialize>(value: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if value.serialize(&mut ser).is_err() {
        return "{}".into();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// Prints a machine document on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    println!("{}", to_json(value));
}

/// `{kind: List, apiVersion, metadata: {}, items}`.
pub fn list(items: Vec<Value>) -> Value {
    json!({"kind": "List", "apiVersion": API_VERSION, "metadata": {}, "items": items})
}

/// The Error document odo prints on stderr with `-o json`.
pub fn error(message: &str) -> Value {
    json!({"kind": "Error", "apiVersion": API_VERSION, "metadata": {}, "message": message})
}

/// Metadata of a machine document.
pub fn metadata(name: &str, namespace: Option<&str>) -> Value {
    let mut m = json!({"name": name, "creationTimestamp": null});
    if let Some(ns) = namespace {
        m["namespace"] = ns.into();
    }
    m
}

/// A `url` document.
pub fn url(name: &str, spec: Value, state: &str) -> Value {
    json!({"kind": "url", "apiVersion": API_VERSION, "metadata": metadata(name, None),
           "spec": spec, "status": {"state": state}})
}

/// A `storage` document (its status is a plain string, as in odo).
pub fn storage(name: &str, size: &str, path: &str, state: &str) -> Value {
    json!({"kind": "storage", "apiVersion": API_VERSION, "metadata": metadata(name, None),
           "spec": {"size": size, "path": path}, "status": state})
}

/// A `Project` document.
pub fn project(name: &str, active: bool) -> Value {
    json!({"kind": "Project", "apiVersion": API_VERSION, "metadata": metadata(name, None),
           "spec": {}, "status": {"active": active}})
}

/// An `Application` document.
pub fn application(name: &str, namespace: &str, components: &[String]) -> Value {
    json!({"kind": "Application", "apiVersion": API_VERSION, "metadata": metadata(name, Some(namespace)),
           "spec": {"components": components}})
}

/// A plain table: a header row and rows, columns padded to the widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}     ", w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_tab_indented() {
        let s = to_json(&error("boom"));
        assert!(s.contains("\n\t\"kind\": \"Error\""), "{s}");
    }

    #[test]
    fn table_pads_columns() {
        let t = table(
            &["NAME", "PORT"],
            &[
                vec!["web".into(), "8080".into()],
                vec!["longer-name".into(), "1".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME            PORT\nweb             8080\nlonger-name     1\n"
        );
    }
}
