//! The Swagger 2.0 rewrite, checked the way client-go's parser reads the document, and the
//! protobuf encoding decoded back and compared with the JSON it came from.

use std::sync::Arc;

use prost::Message;
use serde_json::{Map, Value, json};

use super::proto::{self, additional_properties_item::Oneof};
use super::{document, encode, to_swagger};
use crate::clock::ManualTime;
use crate::store::{Store, StoreConfig};

fn store() -> Store {
    Store::new(StoreConfig::default(), Arc::new(ManualTime::default()))
}

/// What client-go's `proto.NewOpenAPIData` refuses: a reference to a missing definition, an
/// array without exactly one item schema, a type that is not a Swagger 2.0 type.
fn parser_errors(defs: &Map<String, Value>, at: &str, v: &Value, out: &mut Vec<String>) {
    let Some(m) = v.as_object() else { return };
    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
        match r.strip_prefix("#/definitions/") {
            Some(name) if defs.contains_key(name) => {}
            _ => out.push(format!("{at}: unknown model in reference {r}")),
        }
        return;
    }
    match m.get("type") {
        None => {}
        Some(Value::String(t)) if super::TYPES.contains(&t.as_str()) => {}
        Some(t) => out.push(format!("{at}: type {t}")),
    }
    if m.get("type").and_then(Value::as_str) == Some("array") {
        match m.get("items") {
            Some(Value::Object(items)) => {
                parser_errors(defs, &format!("{at}[]"), &Value::Object(items.clone()), out)
            }
            other => out.push(format!("{at}: array items {other:?}")),
        }
    }
    for (k, p) in m
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        parser_errors(defs, &format!("{at}.{k}"), p, out);
    }
    if let Some(extra @ Value::Object(_)) = m.get("additionalProperties") {
        parser_errors(defs, &format!("{at}{{}}"), extra, out);
    }
}

/// OpenAPI 3 keywords left in a schema (property names such as JSONSchemaProps' `nullable`
/// are not keywords).
fn v3_only(at: &str, v: &Value, out: &mut Vec<String>) {
    let Some(m) = v.as_object() else { return };
    for k in ["nullable", "oneOf", "anyOf", "not"] {
        if m.contains_key(k) {
            out.push(format!("{at}: {k}"));
        }
    }
    for (k, p) in m
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        v3_only(&format!("{at}.{k}"), p, out);
    }
    for k in ["items", "additionalProperties"] {
        if let Some(x) = m.get(k) {
            v3_only(&format!("{at}/{k}"), x, out);
        }
    }
    for x in m
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        v3_only(&format!("{at}/allOf"), x, out);
    }
}

#[test]
fn every_definition_parses_as_client_go_reads_swagger() {
    let doc = document(&store());
    let defs = doc["definitions"].as_object().expect("definitions");
    assert!(defs.len() > 100, "{} definitions", defs.len());
    let mut errors = Vec::new();
    for (name, s) in defs {
        parser_errors(defs, name, s, &mut errors);
    }
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(!doc.to_string().contains("#/components/"));
    let mut v3_keywords = Vec::new();
    for (name, s) in defs {
        v3_only(name, s, &mut v3_keywords);
    }
    assert!(v3_keywords.is_empty(), "{v3_keywords:#?}");
    // A wrapped reference keeps its description next to the plain `$ref`.
    let spec = &defs["io.k8s.api.core.v1.Pod"]["properties"]["spec"];
    assert_eq!(spec["$ref"], "#/definitions/io.k8s.api.core.v1.PodSpec");
    assert!(
        spec["description"]
            .as_str()
            .is_some_and(|d| d.contains("Specification"))
    );
    assert!(spec.get("allOf").is_none());
    let int_or_string = &defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(
        (&int_or_string["type"], &int_or_string["format"]),
        (&json!("string"), &json!("int-or-string"))
    );
    assert_eq!(
        defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"],
        "string"
    );
    assert_eq!(
        defs["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
}

#[test]
fn rewrite_rules() {
    let mut s = json!({
        "type": "object",
        "nullable": true,
        "properties": {
            "a": {"allOf": [{"$ref": "#/components/schemas/X"}], "description": "d", "default": {}},
            "b": {"type": "array"},
            "c": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true},
            "d": {"type": "null"},
            "e": {"allOf": [{"$ref": "#/components/schemas/X"}, {"type": "object"}]},
            "f": {"type": "object", "additionalProperties": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Y"}]}}}
        }
    });
    to_swagger(&mut s);
    assert_eq!(
        s,
        json!({
            "type": "object",
            "properties": {
                "a": {"description": "d", "default": {}, "$ref": "#/definitions/X"},
                "b": {"type": "array", "items": {}},
                "c": {"x-kubernetes-int-or-string": true},
                "d": {},
                "e": {"allOf": [{"$ref": "#/definitions/X"}, {"type": "object"}]},
                "f": {"type": "object", "additionalProperties": {"type": "array", "items": {"$ref": "#/definitions/Y"}}}
            }
        })
    );
}

fn yaml(a: Option<&proto::Any>) -> Value {
    let text = a.map(|a| a.yaml.as_str()).unwrap_or_default();
    serde_yaml::from_str(text).expect("YAML value")
}

/// The JSON a decoded schema stands for (the inverse of the encoder, field by field).
fn back(s: &proto::Schema) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    for (k, v) in [
        ("$ref", &s.xref),
        ("format", &s.format),
        ("title", &s.title),
        ("description", &s.description),
        ("pattern", &s.pattern),
        ("discriminator", &s.discriminator),
    ] {
        if !v.is_empty() {
            put(k, json!(v));
        }
    }
    if s.default.is_some() {
        put("default", yaml(s.default.as_ref()));
    }
    if s.example.is_some() {
        put("example", yaml(s.example.as_ref()));
    }
    for (k, v) in [
        ("multipleOf", s.multiple_of),
        ("maximum", s.maximum),
        ("minimum", s.minimum),
    ] {
        if v != 0.0 {
            put(k, json!(v));
        }
    }
    for (k, v) in [
        ("maxLength", s.max_length),
        ("minLength", s.min_length),
        ("maxItems", s.max_items),
        ("minItems", s.min_items),
        ("maxProperties", s.max_properties),
        ("minProperties", s.min_properties),
    ] {
        if v != 0 {
            put(k, json!(v));
        }
    }
    for (k, v) in [
        ("exclusiveMaximum", s.exclusive_maximum),
        ("exclusiveMinimum", s.exclusive_minimum),
        ("uniqueItems", s.unique_items),
        ("readOnly", s.read_only),
    ] {
        if v {
            put(k, json!(true));
        }
    }
    if !s.required.is_empty() {
        put("required", json!(s.required));
    }
    if !s.r#enum.is_empty() {
        put("enum", s.r#enum.iter().map(|a| yaml(Some(a))).collect());
    }
    if let Some(t) = &s.r#type {
        put("type", json!(t.value.join(",")));
    }
    if let Some(items) = &s.items {
        let mut all: Vec<Value> = items.schema.iter().map(back).collect();
        put(
            "items",
            if all.len() == 1 {
                all.remove(0)
            } else {
                Value::Array(all)
            },
        );
    }
    if !s.all_of.is_empty() {
        put("allOf", s.all_of.iter().map(back).collect());
    }
    if let Some(p) = &s.properties {
        put("properties", named(&p.additional_properties));
    }
    match s
        .additional_properties
        .as_ref()
        .and_then(|a| a.oneof.as_ref())
    {
        Some(Oneof::Boolean(b)) => put("additionalProperties", json!(b)),
        Some(Oneof::Schema(x)) => put("additionalProperties", back(x)),
        None => {}
    }
    for ext in &s.vendor_extension {
        put(&ext.name, yaml(ext.value.as_ref()));
    }
    Value::Object(m)
}

fn named(list: &[proto::NamedSchema]) -> Value {
    Value::Object(
        list.iter()
            .map(|n| {
                (
                    n.name.clone(),
                    n.value.as_ref().map(back).unwrap_or_else(|| json!({})),
                )
            })
            .collect(),
    )
}

/// The JSON with what proto3 cannot tell from absent (zero numbers, `false`, empty lists)
/// removed and every number as a float, so it compares with [`back`]'s output.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, x)| {
                    let keyword = !k.starts_with("x-")
                        && !matches!(k.as_str(), "default" | "example" | "enum" | "properties");
                    !(keyword
                        && (x.as_f64() == Some(0.0)
                            || x.as_bool() == Some(false)
                            || x.as_array().is_some_and(Vec::is_empty)
                            || x.as_str() == Some("")))
                })
                .map(|(k, x)| (k.clone(), normalized(x)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        Value::Number(n) => json!(n.as_f64()),
        other => other.clone(),
    }
}

#[test]
fn protobuf_decodes_to_the_json_document() {
    let doc = document(&store());
    let bytes = encode(&doc);
    let decoded = proto::Document::decode(bytes.as_slice()).expect("valid openapi.v2.Document");
    assert_eq!(decoded.swagger, "2.0");
    assert_eq!(
        decoded.info.as_ref().map(|i| i.title.as_str()),
        Some("Kubernetes")
    );
    let defs = decoded
        .definitions
        .expect("definitions")
        .additional_properties;
    let json_defs = doc["definitions"].as_object().expect("definitions");
    assert_eq!(
        defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        json_defs.keys().map(String::as_str).collect::<Vec<_>>()
    );
    for d in &defs {
        let got = normalized(&back(d.value.as_ref().expect("schema")));
        let want = normalized(&json_defs[&d.name]);
        assert_eq!(got, want, "definition {}", d.name);
    }
}
