//! `processedtemplates`: what `oc process` asks the server to do with a Template.
//!
//! Each parameter takes its `value`; an empty one with `generate: expression` gets a value
//! generated from `from` (`[a-z0-9]{8}`, `\w`, `\d`, `\a`, `\A`, literal characters; drawn
//! from the simulator's seeded RNG, so one seed gives the same values); an empty `required`
//! one fails the request with 422 like the real server. Then every string in `objects` has
//! `${NAME}` replaced by the value, and a string that is exactly `${{NAME}}` by the value
//! parsed as JSON (so numbers and booleans keep their type); `labels` (substituted too) are
//! added to every object's `metadata.labels`. The processed Template is returned; creating
//! its objects is the client's job, as with `oc process | oc create -f -`.

use axum::http::StatusCode;
use axum::response::Response;
use rand::RngCore;
use serde_json::{Map, Value, json};

use super::{Request, respond};
use crate::error::{ApiError, ApiResult, Cause};
use crate::store::meta;

const GROUP: &str = "template.openshift.io";

/// One piece of a generator expression: a set of characters drawn `count` times.
#[derive(Debug, PartialEq)]
struct Piece {
    chars: Vec<char>,
    count: usize,
}

fn class(c: char) -> Option<Vec<char>> {
    let alnum = || ('a'..='z').chain('A'..='Z').chain('0'..='9');
    Some(match c {
        'w' => alnum().chain(['_']).collect(),
        'd' => ('0'..='9').collect(),
        'a' => alnum().collect(),
        'A' => "~!@#$%^&*()-_+={}[]\\|<,>.?/\"';:`".chars().collect(),
        _ => return None,
    })
}

/// Parses a generator expression; the error says what is wrong.
fn parse_expression(expr: &str) -> Result<Vec<Piece>, String> {
    let cs: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let chars = match cs[i] {
            '[' => {
                let end = cs[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .map(|p| p + i)
                    .ok_or_else(|| format!("unterminated range in {expr:?}"))?;
                let body = &cs[i + 1..end];
                let mut set = Vec::new();
                let mut j = 0;
                while j < body.len() {
                    if body[j] == '\\' && j + 1 < body.len() {
                        set.extend(class(body[j + 1]).unwrap_or_else(|| vec![body[j + 1]]));
                        j += 2;
                    } else if j + 2 < body.len() && body[j + 1] == '-' {
                        let (a, b) = (body[j], body[j + 2]);
                        if a > b {
                            return Err(format!("invalid range {a}-{b} in {expr:?}"));
                        }
                        set.extend(a..=b);
                        j += 3;
                    } else {
                        set.push(body[j]);
                        j += 1;
                    }
                }
                i = end + 1;
                set
            }
            '\\' if i + 1 < cs.len() => {
                let c = cs[i + 1];
                i += 2;
                class(c).unwrap_or_else(|| vec![c])
            }
            c => {
                i += 1;
                vec![c]
            }
        };
        let mut count = 1;
        if i < cs.len() && cs[i] == '{' {
            let end = cs[i..]
                .iter()
                .position(|c| *c == '}')
                .map(|p| p + i)
                .ok_or_else(|| format!("unterminated count in {expr:?}"))?;
            let n: String = cs[i + 1..end].iter().collect();
            count = n
                .trim()
                .parse()
                .map_err(|_| format!("invalid count {{{n}}} in {expr:?}"))?;
            i = end + 1;
        }
        if chars.is_empty() {
            return Err(format!("empty range in {expr:?}"));
        }
        out.push(Piece { chars, count });
    }
    Ok(out)
}

fn generate(pieces: &[Piece], rng: &mut impl RngCore) -> String {
    let mut s = String::new();
    for p in pieces {
        for _ in 0..p.count {
            s.push(p.chars[rng.next_u32() as usize % p.chars.len()]);
        }
    }
    s
}

/// Replaces `${NAME}` / `${{NAME}}` in every string of `v`.
fn substitute(v: &mut Value, values: &Map<String, Value>) {
    match v {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("${{").and_then(|r| r.strip_suffix("}}"))
                && let Some(Value::String(val)) = values.get(name)
            {
                *v = serde_json::from_str(val).unwrap_or_else(|_| json!(val));
                return;
            }
            if !s.contains("${") {
                return;
            }
            let mut out = s.clone();
            for (name, val) in values {
                let val = val.as_str().unwrap_or_default();
                out = out
                    .replace(&format!("${{{{{name}}}}}"), val)
                    .replace(&format!("${{{name}}}"), val);
            }
            *s = out;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, values)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, values)),
        _ => {}
    }
}

pub(super) fn process(req: &Request<'_>) -> ApiResult<Response> {
    if req.method != "POST" || req.target.name.is_some() {
        return Err(req.verb_not_allowed());
    }
    let mut t = req.body()?;
    let name = meta::name(&t).to_string();
    let mut values = Map::new();
    let mut causes = Vec::new();
    let n = t
        .get("parameters")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for i in 0..n {
        let p = &mut t["parameters"][i];
        let pname = p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let field = format!("template.parameters[{i}]");
        if pname.is_empty() {
            causes.push(Cause::required(format!("{field}.name")));
            continue;
        }
        let mut value = p
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if value.is_empty() && p.get("generate").and_then(Value::as_str) == Some("expression") {
            let from = p.get("from").and_then(Value::as_str).unwrap_or_default();
            match parse_expression(from) {
                Ok(pieces) => {
                    value = generate(&pieces, &mut req.store.lock().rng);
                    p["value"] = json!(value);
                }
                Err(why) => {
                    causes.push(Cause::invalid(format!("{field}.from"), from, why));
                    continue;
                }
            }
        }
        if value.is_empty() && p.get("required").and_then(Value::as_bool) == Some(true) {
            causes.push(Cause {
                reason: "FieldValueRequired".into(),
                message: format!(
                    "Required value: {field}: parameter {pname} is required and must be specified"
                ),
                field,
            });
            continue;
        }
        values.insert(pname, json!(value));
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(GROUP, "Template", &name, causes));
    }
    let mut labels = t.get("labels").cloned().unwrap_or_else(|| json!({}));
    substitute(&mut labels, &values);
    if let Some(objects) = t.get_mut("objects").and_then(Value::as_array_mut) {
        for o in objects {
            substitute(o, &values);
            if let Some(l) = labels.as_object().filter(|l| !l.is_empty()) {
                let m = meta::meta_mut(o)
                    .entry("labels")
                    .or_insert_with(|| json!({}));
                if !m.is_object() {
                    *m = json!({});
                }
                for (k, v) in l {
                    m[k] = v.clone();
                }
            }
        }
    }
    respond(StatusCode::CREATED, &t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn expressions_generate_what_they_say() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let p = parse_expression("[a-z0-9]{8}").expect("test data has this shape");
        let v = generate(&p, &mut rng);
        assert_eq!(v.len(), 8);
        assert!(
            v.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        let v = generate(
            &parse_expression("user\\d{3}").expect("test data has this shape"),
            &mut rng,
        );
        assert!(
            v.starts_with("user") && v[4..].chars().all(|c| c.is_ascii_digit()),
            "{v}"
        );
        assert!(parse_expression("[a-z").is_err());
        assert!(parse_expression("[z-a]").is_err());
    }

    #[test]
    fn substitution_keeps_types_for_double_braces() {
        let mut values = Map::new();
        values.insert("N".into(), json!("3"));
        values.insert("NAME".into(), json!("web"));
        let mut v = json!({"replicas": "${{N}}", "name": "${NAME}-svc", "text": "n=${{N}}"});
        substitute(&mut v, &values);
        assert_eq!(v, json!({"replicas": 3, "name": "web-svc", "text": "n=3"}));
    }
}
