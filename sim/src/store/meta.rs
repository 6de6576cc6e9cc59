//! Object metadata helpers: reading and writing `metadata` fields of JSON objects, name
//! validation (RFC 1123 / RFC 1035), and UID generation from the seeded RNG.

use rand::RngCore;
use serde_json::{Map, Value};

use crate::error::Cause;
use crate::json_ptr::Ptr;
use crate::resources::NameRule;

/// `metadata.<field>` as a string, or "".
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `metadata.name`.
pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name")
}

/// `metadata.namespace`.
pub fn namespace(obj: &Value) -> &str {
    meta_str(obj, "namespace")
}

/// `metadata.uid`.
pub fn uid(obj: &Value) -> &str {
    meta_str(obj, "uid")
}

/// `metadata.resourceVersion`.
pub fn resource_version(obj: &Value) -> &str {
    meta_str(obj, "resourceVersion")
}

/// The `metadata` map, created if missing (the object must be a JSON object).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    match obj.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// `metadata.finalizers` as strings.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.ptr("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(obj: &Value) -> bool {
    obj.ptr("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// The UIDs this object names in `metadata.ownerReferences`.
pub fn owner_uids(obj: &Value) -> Vec<String> {
    obj.ptr("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A random RFC 4122 version 4 UUID drawn from `rng`.
pub fn new_uid(rng: &mut impl RngCore) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The 5-character suffix `generateName` appends, from the alphabet the real server uses.
pub fn name_suffix(rng: &mut impl RngCore) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
        .collect()
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Checks an object name against a rule; returns the cause for a 422 when it does not fit.
pub fn validate_name(rule: NameRule, value: &str, field: &str) -> Option<Cause> {
    if value.is_empty() {
        return Some(Cause::required(field));
    }
    let detail = match rule {
        NameRule::Subdomain => {
            if value.len() > 253 || !value.split('.').all(is_label) {
                Some(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                )
            } else {
                None
            }
        }
        NameRule::Label => {
            if value.len() > 63 {
                Some("must be no more than 63 characters")
            } else if !is_label(value) {
                Some(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                )
            } else {
                None
            }
        }
        NameRule::Rfc1035 => {
            if value.len() > 63 {
                Some("must be no more than 63 characters")
            } else if !is_label(value) || !value.starts_with(|c: char| c.is_ascii_lowercase()) {
                Some(
                    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                )
            } else {
                None
            }
        }
        NameRule::Path => {
            if value == "." || value == ".." || value.contains('/') || value.contains('%') {
                Some("may not contain '/' or '%' and may not be '.' or '..'")
            } else {
                None
            }
        }
    };
    detail.map(|d| Cause::invalid(field, value, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn names_follow_dns_rules() {
        assert!(validate_name(NameRule::Subdomain, "a.b-c", "metadata.name").is_none());
        assert!(validate_name(NameRule::Subdomain, "Upper", "metadata.name").is_some());
        assert!(validate_name(NameRule::Label, "a.b", "metadata.name").is_some());
        assert!(validate_name(NameRule::Label, &"a".repeat(64), "metadata.name").is_some());
        assert!(validate_name(NameRule::Rfc1035, "1abc", "metadata.name").is_some());
        assert!(validate_name(NameRule::Rfc1035, "abc-1", "metadata.name").is_none());
        assert_eq!(
            validate_name(NameRule::Label, "", "metadata.name").map(|c| c.reason),
            Some("FieldValueRequired".into())
        );
    }

    #[test]
    fn uids_are_v4_and_seeded() {
        let mut a = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut b = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let u = new_uid(&mut a);
        assert_eq!(u, new_uid(&mut b));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(name_suffix(&mut a).len(), 5);
    }
}
