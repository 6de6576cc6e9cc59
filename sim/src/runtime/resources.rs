//! Container resource values for the downward API (`resourceFieldRef` in env and in
//! downwardAPI volume items), computed as the kubelet does: limits not set default to the
//! node's allocatable, requests not set default to the limits set in the spec (the API
//! server's Pod defaulting) or 0, and the value is rounded up to whole `divisor` units
//! (CPU in millicores first, memory and storage in bytes first).

use std::collections::BTreeMap;

/// A resource quantity (`500m`, `1.5Gi`, `2e3`), exactly, in billionths of its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    nanos: i128,
}

/// Why a quantity or a resource value could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// A quantity that does not parse.
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}"
    )]
    BadQuantity(String),
    /// A quantity too large to compute with.
    #[error("quantity {0:?} is too large")]
    TooLarge(String),
    /// `resourceFieldRef.containerName` names no container of the pod.
    #[error("container {0} not found")]
    UnknownContainer(String),
    /// A resource the downward API does not expose.
    #[error("unsupported container resource : {0}")]
    Unsupported(String),
    /// A divisor of zero.
    #[error("divisor {0:?} is zero")]
    ZeroDivisor(String),
}

const NANO: i128 = 1_000_000_000;

fn pow(base: i128, exp: u32, text: &str) -> Result<i128, ResourceError> {
    base.checked_pow(exp)
        .ok_or_else(|| ResourceError::TooLarge(text.to_string()))
}

/// `n` divided by `d`, rounded towards positive infinity (`d > 0`).
fn div_ceil(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d != 0 && n > 0 { q + 1 } else { q }
}

impl Quantity {
    /// Parses the Kubernetes quantity syntax: a decimal number and a suffix (`n u m k M G T P
    /// E`, `Ki Mi Gi Ti Pi Ei`, or an exponent `e3`/`E-2`). Digits beyond a billionth round up.
    pub fn parse(text: &str) -> Result<Self, ResourceError> {
        let bad = || ResourceError::BadQuantity(text.to_string());
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let num_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, suffix) = s.split_at(num_len);
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if int.is_empty() && frac.is_empty() || frac.contains('.') {
            return Err(bad());
        }
        let too_large = || ResourceError::TooLarge(text.to_string());
        let digits: i128 = format!("{int}{frac}").parse().map_err(|_| too_large())?;
        // value = digits * 10^ten * 1024^two, in units; nanos = value * 10^9.
        let frac_len = i32::try_from(frac.len()).map_err(|_| too_large())?;
        let (ten, two): (i32, u32) = match suffix {
            "" => (0, 0),
            "n" => (-9, 0),
            "u" => (-6, 0),
            "m" => (-3, 0),
            "k" => (3, 0),
            "M" => (6, 0),
            "G" => (9, 0),
            "T" => (12, 0),
            "P" => (15, 0),
            "E" => (18, 0),
            "Ki" => (0, 10),
            "Mi" => (0, 20),
            "Gi" => (0, 30),
            "Ti" => (0, 40),
            "Pi" => (0, 50),
            "Ei" => (0, 60),
            e if e.starts_with(['e', 'E']) => (e[1..].parse().map_err(|_| bad())?, 0),
            _ => return Err(bad()),
        };
        let mut n = digits
            .checked_mul(pow(2, two, text)?)
            .ok_or_else(too_large)?;
        let p = ten + 9 - frac_len;
        if p >= 0 {
            n = n
                .checked_mul(pow(10, p.unsigned_abs(), text)?)
                .ok_or_else(too_large)?;
        } else {
            n = div_ceil(n, pow(10, p.unsigned_abs(), text)?);
        }
        Ok(Quantity {
            nanos: if negative { -n } else { n },
        })
    }

    /// The sum of two quantities, `None` when it overflows.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.nanos
            .checked_add(other.nanos)
            .map(|nanos| Quantity { nanos })
    }

    /// Whether the quantity is greater than zero.
    pub fn is_positive(self) -> bool {
        self.nanos > 0
    }

    /// The quantity in thousandths, rounded up (Kubernetes' `MilliValue`).
    pub fn milli_value(self) -> i128 {
        div_ceil(self.nanos, NANO / 1000)
    }

    /// The quantity in whole units, rounded up (Kubernetes' `Value`).
    pub fn value(self) -> i128 {
        div_ceil(self.nanos, NANO)
    }
}

/// A container's resources as the pod spec gives them (quantity strings by resource name).
#[derive(Debug, Clone, Default)]
pub struct ContainerResources {
    /// `resources.limits`.
    pub limits: BTreeMap<String, String>,
    /// `resources.requests`.
    pub requests: BTreeMap<String, String>,
}

/// What the downward API's resource values of one pod depend on.
#[derive(Debug, Clone, Default)]
pub struct PodResources {
    /// Every container and init container of the pod, by name.
    pub containers: BTreeMap<String, ContainerResources>,
    /// The allocatable resources of the pod's node (`status.allocatable`).
    pub allocatable: BTreeMap<String, String>,
}

/// Resources whose unset limit is the node's allocatable amount.
const DEFAULTED_TO_ALLOCATABLE: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

impl PodResources {
    /// The rendering of `resource` (`limits.cpu`, `requests.memory`, ...) of `container` in
    /// units of `divisor` (`"1"` when absent or zero), as the kubelet puts it into env and
    /// downwardAPI files.
    pub fn value(
        &self,
        container: &str,
        resource: &str,
        divisor: Option<&str>,
    ) -> Result<String, ResourceError> {
        let c = self
            .containers
            .get(container)
            .ok_or_else(|| ResourceError::UnknownContainer(container.to_string()))?;
        let unsupported = || ResourceError::Unsupported(resource.to_string());
        let (kind, name) = resource.split_once('.').ok_or_else(unsupported)?;
        let cpu = name == "cpu";
        if !(DEFAULTED_TO_ALLOCATABLE.contains(&name) || name.starts_with("hugepages-")) {
            return Err(unsupported());
        }
        let amount = match kind {
            "limits" => c.limits.get(name).or_else(|| {
                DEFAULTED_TO_ALLOCATABLE
                    .contains(&name)
                    .then(|| self.allocatable.get(name))
                    .flatten()
            }),
            "requests" => c.requests.get(name).or_else(|| c.limits.get(name)),
            _ => return Err(unsupported()),
        };
        let amount = match amount {
            Some(q) => Quantity::parse(q)?,
            None => Quantity { nanos: 0 },
        };
        let divisor_text = divisor.unwrap_or("1");
        let mut div = Quantity::parse(divisor_text)?;
        if div.nanos == 0 {
            div = Quantity { nanos: NANO };
        }
        let (n, d) = if cpu {
            (amount.milli_value(), div.milli_value())
        } else {
            (amount.value(), div.value())
        };
        if d <= 0 {
            return Err(ResourceError::ZeroDivisor(divisor_text.to_string()));
        }
        Ok(div_ceil(n, d).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> i128 {
        Quantity::parse(s).map(|q| q.nanos).unwrap_or(i128::MIN)
    }

    #[test]
    fn quantities_parse_exactly() {
        assert_eq!(q("1"), NANO);
        assert_eq!(q("250m"), NANO / 4);
        assert_eq!(q("1.5"), 3 * NANO / 2);
        assert_eq!(q("0.1"), NANO / 10);
        assert_eq!(q("100n"), 100);
        assert_eq!(q("1Ki"), 1024 * NANO);
        assert_eq!(q("1.5Gi"), 3 * (1 << 29) * NANO);
        assert_eq!(q("64M"), 64_000_000 * NANO);
        assert_eq!(q("2e3"), 2000 * NANO);
        assert_eq!(q("1E"), 1_000_000_000_000_000_000 * NANO);
        assert_eq!(q("1Ei"), (1i128 << 60) * NANO);
        assert_eq!(q("0.0000000001"), 1, "below a billionth rounds up");
        assert_eq!(q("-2"), -2 * NANO);
        for bad in ["", "Mi", "1GB", "1..2", "1 Gi", "abc", "1e"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} parses");
        }
    }
}
