//! Small command-line parsing shared by the utilities (short flags, bundled flags, `--`).

use std::collections::BTreeMap;

/// Parsed options: flags seen (with their values for flags that take one) and operands.
#[derive(Debug, Default)]
pub struct Opts {
    /// Each flag with its value (empty string for flags without a value); the last one wins.
    pub flags: BTreeMap<char, String>,
    /// Long options (`--name` or `--name=value`).
    pub long: BTreeMap<String, String>,
    /// Operands in order.
    pub operands: Vec<String>,
}

impl Opts {
    /// Whether flag `c` was given.
    pub fn has(&self, c: char) -> bool {
        self.flags.contains_key(&c)
    }

    /// The value of flag `c`.
    pub fn value(&self, c: char) -> Option<&str> {
        self.flags.get(&c).map(String::as_str)
    }
}

/// Parses `args` (without argv[0]); flags in `with_value` take the next argument as value.
/// A lone `-` is an operand. Numbers like `-5` are accepted as flag `#` when `numeric` (head -5).
pub fn parse(args: &[String], with_value: &str, numeric: bool) -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            o.operands.extend(args[i + 1..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (k, v) = long.split_once('=').unwrap_or((long, ""));
            o.long.insert(k.to_string(), v.to_string());
        } else if a.len() > 1 && a.starts_with('-') {
            let body = &a[1..];
            if numeric && body.chars().all(|c| c.is_ascii_digit()) {
                o.flags.insert('#', body.to_string());
                i += 1;
                continue;
            }
            for (pos, c) in body.char_indices() {
                if with_value.contains(c) {
                    let rest = &body[pos + c.len_utf8()..];
                    let v = if !rest.is_empty() {
                        rest.to_string()
                    } else {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or_else(|| format!("option requires an argument -- '{c}'"))?
                    };
                    o.flags.insert(c, v);
                    break;
                }
                o.flags.insert(c, String::new());
            }
        } else {
            o.operands.push(a.clone());
        }
        i += 1;
    }
    Ok(o)
}
