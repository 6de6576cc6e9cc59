//! `/openapi/v2`: the Swagger 2.0 document, in JSON and in the protobuf encoding client-go's
//! Swagger reader asks for (`kubectl explain --output=plaintext-openapiv2`, older clients'
//! validation).
//!
//! The definitions are the v3 component schemas of every served group-version, rewritten to
//! what Swagger 2.0 can say: `allOf: [{$ref}]` wrappers become a plain `$ref` next to the
//! description (as the real server publishes them), references point into `#/definitions`, and
//! the OpenAPI 3 keywords Swagger lacks (`nullable`, `oneOf`, `anyOf`, `not`) are dropped.
//! client-go's parser rejects the whole document for one array without `items` or one
//! non-primitive `type`, so those are made well formed too.
//!
//! The protobuf form is the `openapi.v2.Document` message of google/gnostic's `OpenAPIv2.proto`
//! (only the messages a schema document needs are declared, in [`proto`]). Values of
//! `default`, `enum`, `example` and the `x-` extensions travel as YAML text, as gnostic
//! carries them.

use prost::Message;
use serde_json::{Map, Value, json};

use super::{gv_path, v3_group_version};
use crate::store::Store;

/// The media type client-go sends in `Accept` for the protobuf Swagger document. The `@` is
/// not valid in a `Content-Type` (Go's MIME parser rejects it), so the answer to it is labelled
/// `application/octet-stream`, as the real server labels it.
pub const PROTO_MEDIA_TYPE: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The well-formed spelling of [`PROTO_MEDIA_TYPE`], answered under its own name.
pub const PROTO_MEDIA_TYPE_DOTTED: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The `Content-Type` of a protobuf answer to a request that accepted `requested`.
pub fn proto_content_type(requested: &str) -> &'static str {
    if requested == PROTO_MEDIA_TYPE_DOTTED {
        PROTO_MEDIA_TYPE_DOTTED
    } else {
        "application/octet-stream"
    }
}

/// Every served kind's definitions in Swagger 2.0 form (the paths are only in the v3
/// documents).
pub fn document(store: &Store) -> Value {
    let registry = store.registry();
    let mut definitions = Map::new();
    for (g, v) in registry.group_versions() {
        let Some(doc) = v3_group_version(store, &gv_path(&g, &v)) else {
            continue;
        };
        if let Some(defs) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (k, s) in defs {
                let mut s = s.clone();
                to_swagger(&mut s);
                string_form(k, &mut s);
                definitions.insert(k.clone(), s);
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0"},
        "paths": {},
        "definitions": definitions,
    })
}

/// The two built-in types whose JSON form is a string (or a number) are published in Swagger
/// 2.0 as strings, `IntOrString` with the `int-or-string` format, as the real server does;
/// the v3 schemas mark them only with `x-kubernetes-int-or-string`, which Swagger readers do
/// not know.
fn string_form(name: &str, s: &mut Value) {
    let format = match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => Some("int-or-string"),
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => None,
        _ => return,
    };
    if let Value::Object(m) = s {
        m.remove("x-kubernetes-int-or-string");
        m.insert("type".into(), json!("string"));
        if let Some(f) = format {
            m.insert("format".into(), json!(f));
        }
    }
}

/// The Swagger 2.0 `types` client-go's parser accepts.
const TYPES: [&str; 6] = ["object", "array", "string", "integer", "number", "boolean"];

/// Rewrites one OpenAPI 3 schema, in place, to its Swagger 2.0 form.
fn to_swagger(v: &mut Value) {
    let Value::Object(m) = v else { return };
    for k in ["nullable", "oneOf", "anyOf", "not"] {
        m.remove(k);
    }
    let single_ref = match m.get("allOf") {
        Some(Value::Array(all)) if all.len() == 1 => all[0]
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.get("$ref"))
            .cloned(),
        _ => None,
    };
    if let Some(r) = single_ref {
        m.remove("allOf");
        m.insert("$ref".into(), r);
    }
    if let Some(Value::String(r)) = m.get_mut("$ref")
        && let Some(rest) = r.strip_prefix("#/components/schemas/")
    {
        *r = format!("#/definitions/{rest}");
    }
    if m.get("type")
        .is_some_and(|t| !t.as_str().is_some_and(|t| TYPES.contains(&t)))
    {
        m.remove("type");
    }
    if m.get("type").and_then(Value::as_str) == Some("array") && !m.contains_key("items") {
        m.insert("items".into(), json!({}));
    }
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        props.values_mut().for_each(to_swagger);
    }
    match m.get_mut("items") {
        Some(Value::Array(items)) => items.iter_mut().for_each(to_swagger),
        Some(items) => to_swagger(items),
        None => {}
    }
    if let Some(extra @ Value::Object(_)) = m.get_mut("additionalProperties") {
        to_swagger(extra);
    }
    if let Some(Value::Array(all)) = m.get_mut("allOf") {
        all.iter_mut().for_each(to_swagger);
    }
}

/// The protobuf (`openapi.v2.Document`) encoding of a Swagger document from [`document`].
pub fn encode(doc: &Value) -> Vec<u8> {
    let text = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
    let message = proto::Document {
        swagger: text("swagger"),
        info: Some(proto::Info {
            title: doc["info"]["title"].as_str().unwrap_or_default().into(),
            version: doc["info"]["version"].as_str().unwrap_or_default().into(),
        }),
        paths: Some(proto::Paths::default()),
        definitions: Some(proto::Definitions {
            additional_properties: named_schemas(&doc["definitions"]),
        }),
    };
    message.encode_to_vec()
}

fn named_schemas(v: &Value) -> Vec<proto::NamedSchema> {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| proto::NamedSchema {
            name: name.clone(),
            value: Some(schema(s)),
        })
        .collect()
}

fn any(v: &Value) -> proto::Any {
    proto::Any {
        yaml: serde_yaml::to_string(v).unwrap_or_default(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn schema(v: &Value) -> proto::Schema {
    let mut s = proto::Schema::default();
    let Some(m) = v.as_object() else { return s };
    let text = |x: &Value| x.as_str().unwrap_or_default().to_string();
    let number = |x: &Value| x.as_f64().unwrap_or_default();
    let count = |x: &Value| x.as_i64().unwrap_or_default();
    let flag = |x: &Value| x.as_bool().unwrap_or_default();
    for (k, x) in m {
        match k.as_str() {
            "$ref" => s.xref = text(x),
            "format" => s.format = text(x),
            "title" => s.title = text(x),
            "description" => s.description = text(x),
            "pattern" => s.pattern = text(x),
            "discriminator" => s.discriminator = text(x),
            "default" => s.default = Some(any(x)),
            "example" => s.example = Some(any(x)),
            "multipleOf" => s.multiple_of = number(x),
            "maximum" => s.maximum = number(x),
            "minimum" => s.minimum = number(x),
            "exclusiveMaximum" => s.exclusive_maximum = flag(x),
            "exclusiveMinimum" => s.exclusive_minimum = flag(x),
            "uniqueItems" => s.unique_items = flag(x),
            "readOnly" => s.read_only = flag(x),
            "maxLength" => s.max_length = count(x),
            "minLength" => s.min_length = count(x),
            "maxItems" => s.max_items = count(x),
            "minItems" => s.min_items = count(x),
            "maxProperties" => s.max_properties = count(x),
            "minProperties" => s.min_properties = count(x),
            "required" => s.required = strings(x),
            "enum" => s.r#enum = x.as_array().into_iter().flatten().map(any).collect(),
            "type" => s.r#type = Some(proto::TypeItem { value: strings(x) }),
            "items" => {
                let items = match x {
                    Value::Array(a) => a.iter().map(schema).collect(),
                    other => vec![schema(other)],
                };
                s.items = Some(proto::ItemsItem { schema: items });
            }
            "allOf" => s.all_of = x.as_array().into_iter().flatten().map(schema).collect(),
            "properties" => {
                s.properties = Some(proto::Properties {
                    additional_properties: named_schemas(x),
                });
            }
            "additionalProperties" => {
                let item = match x {
                    Value::Bool(b) => proto::additional_properties_item::Oneof::Boolean(*b),
                    other => {
                        proto::additional_properties_item::Oneof::Schema(Box::new(schema(other)))
                    }
                };
                s.additional_properties =
                    Some(proto::AdditionalPropertiesItem { oneof: Some(item) });
            }
            ext if ext.starts_with("x-") => s.vendor_extension.push(proto::NamedAny {
                name: ext.to_string(),
                value: Some(any(x)),
            }),
            // Keywords with no field in Swagger 2.0's schema object.
            _ => {}
        }
    }
    s
}

/// The messages of gnostic's `openapi.v2` package that a definitions-only document uses,
/// with their field numbers.
pub mod proto {
    /// `openapi.v2.Document`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Document {
        /// The Swagger version, `2.0`.
        #[prost(string, tag = "1")]
        pub swagger: String,
        /// Title and version.
        #[prost(message, optional, tag = "2")]
        pub info: Option<Info>,
        /// The paths (none: they are in the v3 documents).
        #[prost(message, optional, tag = "8")]
        pub paths: Option<Paths>,
        /// The schemas by name.
        #[prost(message, optional, tag = "9")]
        pub definitions: Option<Definitions>,
    }

    /// `openapi.v2.Info`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Info {
        /// API title.
        #[prost(string, tag = "1")]
        pub title: String,
        /// API version.
        #[prost(string, tag = "2")]
        pub version: String,
    }

    /// `openapi.v2.Paths` (always empty here).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Paths {}

    /// `openapi.v2.Definitions`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Definitions {
        /// The schemas, in document order.
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    /// `openapi.v2.NamedSchema`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedSchema {
        /// Map key.
        #[prost(string, tag = "1")]
        pub name: String,
        /// The schema.
        #[prost(message, optional, tag = "2")]
        pub value: Option<Schema>,
    }

    /// `openapi.v2.Properties`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Properties {
        /// The properties, in document order.
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    /// `openapi.v2.Any`: a value as YAML text.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        /// The value, as YAML.
        #[prost(string, tag = "2")]
        pub yaml: String,
    }

    /// `openapi.v2.NamedAny`: one `x-` extension.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedAny {
        /// The extension's name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// Its value.
        #[prost(message, optional, tag = "2")]
        pub value: Option<Any>,
    }

    /// `openapi.v2.TypeItem`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeItem {
        /// The type names.
        #[prost(string, repeated, tag = "1")]
        pub value: Vec<String>,
    }

    /// `openapi.v2.ItemsItem`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ItemsItem {
        /// The item schema(s).
        #[prost(message, repeated, tag = "1")]
        pub schema: Vec<Schema>,
    }

    /// `openapi.v2.AdditionalPropertiesItem`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AdditionalPropertiesItem {
        /// A schema or a boolean.
        #[prost(oneof = "additional_properties_item::Oneof", tags = "1, 2")]
        pub oneof: Option<additional_properties_item::Oneof>,
    }

    /// The `oneof` of [`AdditionalPropertiesItem`].
    pub mod additional_properties_item {
        /// A schema or a boolean.
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Oneof {
            /// The schema of every extra property.
            #[prost(message, tag = "1", boxed)]
            Schema(Box<super::Schema>),
            /// Whether extra properties are allowed.
            #[prost(bool, tag = "2")]
            Boolean(bool),
        }
    }

    /// `openapi.v2.Schema`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Schema {
        /// `$ref`.
        #[prost(string, tag = "1")]
        pub xref: String,
        /// `format`.
        #[prost(string, tag = "2")]
        pub format: String,
        /// `title`.
        #[prost(string, tag = "3")]
        pub title: String,
        /// `description`.
        #[prost(string, tag = "4")]
        pub description: String,
        /// `default`.
        #[prost(message, optional, tag = "5")]
        pub default: Option<Any>,
        /// `multipleOf`.
        #[prost(double, tag = "6")]
        pub multiple_of: f64,
        /// `maximum`.
        #[prost(double, tag = "7")]
        pub maximum: f64,
        /// `exclusiveMaximum`.
        #[prost(bool, tag = "8")]
        pub exclusive_maximum: bool,
        /// `minimum`.
        #[prost(double, tag = "9")]
        pub minimum: f64,
        /// `exclusiveMinimum`.
        #[prost(bool, tag = "10")]
        pub exclusive_minimum: bool,
        /// `maxLength`.
        #[prost(int64, tag = "11")]
        pub max_length: i64,
        /// `minLength`.
        #[prost(int64, tag = "12")]
        pub min_length: i64,
        /// `pattern`.
        #[prost(string, tag = "13")]
        pub pattern: String,
        /// `maxItems`.
        #[prost(int64, tag = "14")]
        pub max_items: i64,
        /// `minItems`.
        #[prost(int64, tag = "15")]
        pub min_items: i64,
        /// `uniqueItems`.
        #[prost(bool, tag = "16")]
        pub unique_items: bool,
        /// `maxProperties`.
        #[prost(int64, tag = "17")]
        pub max_properties: i64,
        /// `minProperties`.
        #[prost(int64, tag = "18")]
        pub min_properties: i64,
        /// `required`.
        #[prost(string, repeated, tag = "19")]
        pub required: Vec<String>,
        /// `enum`.
        #[prost(message, repeated, tag = "20")]
        pub r#enum: Vec<Any>,
        /// `additionalProperties`.
        #[prost(message, optional, tag = "21")]
        pub additional_properties: Option<AdditionalPropertiesItem>,
        /// `type`.
        #[prost(message, optional, tag = "22")]
        pub r#type: Option<TypeItem>,
        /// `items`.
        #[prost(message, optional, tag = "23")]
        pub items: Option<ItemsItem>,
        /// `allOf`.
        #[prost(message, repeated, tag = "24")]
        pub all_of: Vec<Schema>,
        /// `properties`.
        #[prost(message, optional, tag = "25")]
        pub properties: Option<Properties>,
        /// `discriminator`.
        #[prost(string, tag = "26")]
        pub discriminator: String,
        /// `readOnly`.
        #[prost(bool, tag = "27")]
        pub read_only: bool,
        /// `example`.
        #[prost(message, optional, tag = "30")]
        pub example: Option<Any>,
        /// The `x-` extensions.
        #[prost(message, repeated, tag = "31")]
        pub vendor_extension: Vec<NamedAny>,
    }
}

#[cfg(test)]
mod tests;
