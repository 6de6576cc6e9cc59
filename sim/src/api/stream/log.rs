//! `pods/log`: the options of `PodLogOptions` (follow, previous, timestamps, tailLines,
//! sinceSeconds, sinceTime, limitBytes) applied to the runtime's log of a container
//! instance, answered as `text/plain`, chunked while following.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::Value;

use super::Query as Params;
use super::resolve::{self, Purpose};
use crate::error::{ApiError, ApiResult, Cause};
use crate::kubelet::ContainerRuntime;
use crate::kubelet::streams::LogLine;

/// The parsed `PodLogOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// `container`.
    pub container: Option<String>,
    /// `follow`.
    pub follow: bool,
    /// `previous`.
    pub previous: bool,
    /// `timestamps`: prefix each line with its RFC 3339 time (nanoseconds, trailing zeros
    /// trimmed, as Go's `RFC3339Nano`).
    pub timestamps: bool,
    /// `tailLines`.
    pub tail_lines: Option<u64>,
    /// `sinceSeconds`, resolved against the current virtual time, or `sinceTime`.
    pub since: Option<Timestamp>,
    /// `limitBytes`.
    pub limit_bytes: Option<u64>,
}

fn int_param(params: &Params, name: &str, pod: &str, min: i64) -> ApiResult<Option<i64>> {
    let Some(raw) = params.get(name) else {
        return Ok(None);
    };
    let n: i64 = raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "unable to parse {name:?}: strconv.ParseInt: parsing {raw:?}: invalid syntax"
        ))
    })?;
    if n < min {
        let detail = if min == 0 {
            "must be greater than or equal to 0"
        } else {
            "must be greater than 0"
        };
        return Err(ApiError::invalid(
            "",
            "PodLogOptions",
            pod,
            vec![Cause::invalid(name, &n.to_string(), detail)],
        ));
    }
    Ok(Some(n))
}

impl LogOptions {
    /// Parses the query of a `pods/log` request; `now` is the current virtual time.
    pub fn parse(params: &Params, pod: &str, now: Timestamp) -> ApiResult<Self> {
        let since_seconds = int_param(params, "sinceSeconds", pod, 1)?;
        let since_time = match params.get("sinceTime") {
            Some(t) => Some(t.parse::<Timestamp>().map_err(|e| {
                ApiError::bad_request(format!("sinceTime {t:?} is not an RFC 3339 time: {e}"))
            })?),
            None => None,
        };
        if since_seconds.is_some() && since_time.is_some() {
            return Err(ApiError::invalid(
                "",
                "PodLogOptions",
                pod,
                vec![Cause {
                    reason: "FieldValueForbidden".into(),
                    message:
                        "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
                            .into(),
                    field: String::new(),
                }],
            ));
        }
        let since = match since_seconds {
            Some(s) => Some(
                now.checked_sub(jiff::SignedDuration::from_secs(s))
                    .unwrap_or(Timestamp::MIN),
            ),
            None => since_time,
        };
        let unsigned = |v: Option<i64>| v.and_then(|n| u64::try_from(n).ok());
        Ok(Self {
            container: params.get("container").map(str::to_string),
            follow: params.flag("follow"),
            previous: params.flag("previous"),
            timestamps: params.flag("timestamps"),
            tail_lines: unsigned(int_param(params, "tailLines", pod, 0)?),
            since,
            limit_bytes: unsigned(int_param(params, "limitBytes", pod, 1)?),
        })
    }

    fn keep(&self, line: &LogLine) -> bool {
        self.since.is_none_or(|s| line.time >= s)
    }

    fn render(&self, line: &LogLine) -> Bytes {
        if !self.timestamps {
            return line.bytes.clone();
        }
        let mut out = format!("{} ", line.time).into_bytes();
        out.extend_from_slice(&line.bytes);
        Bytes::from(out)
    }
}

/// Caps the bytes sent at `limitBytes`.
struct Limit(Option<u64>);

impl Limit {
    /// The part of `chunk` still allowed, or `None` once the limit is reached.
    fn take(&mut self, chunk: Bytes) -> Option<Bytes> {
        match &mut self.0 {
            None => Some(chunk),
            Some(0) => None,
            Some(left) => {
                let n = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(chunk.len());
                *left -= n as u64;
                Some(chunk.slice(..n))
            }
        }
    }

    fn exhausted(&self) -> bool {
        self.0 == Some(0)
    }
}

/// The history part of a log after `since` and `tailLines`, rendered.
pub fn select_history(opts: &LogOptions, history: &[LogLine]) -> Vec<Bytes> {
    let kept: Vec<&LogLine> = history.iter().filter(|l| opts.keep(l)).collect();
    let skip = opts.tail_lines.map_or(0, |t| {
        kept.len()
            .saturating_sub(usize::try_from(t).unwrap_or(usize::MAX))
    });
    kept[skip..].iter().map(|l| opts.render(l)).collect()
}

/// Serves `GET pods/log`.
pub fn serve(
    runtime: Option<Arc<dyn ContainerRuntime>>,
    pod: &Value,
    params: &Params,
    now: Timestamp,
) -> ApiResult<Response> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let opts = LogOptions::parse(params, name, now)?;
    let container = resolve::container_name(pod, opts.container.as_deref())?;
    let scheduled = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !scheduled {
        // The API server answers an empty log for a pod that has no node yet.
        return Ok(text(Body::empty()));
    }
    let purpose = if opts.previous {
        Purpose::PreviousLog
    } else {
        Purpose::Log
    };
    let id = resolve::instance(pod, &container, purpose)?;
    let runtime = runtime.ok_or_else(|| no_runtime(name))?;
    let log = runtime.logs(&id).map_err(|e| resolve::stream_error(&e))?;
    let mut limit = Limit(opts.limit_bytes);
    let head: Vec<Bytes> = select_history(&opts, &log.history)
        .into_iter()
        .map_while(|b| limit.take(b))
        .collect();
    let follow = log.follow.filter(|_| opts.follow && !limit.exhausted());
    let Some(mut rx) = follow else {
        return Ok(text(Body::from(head.concat())));
    };
    let stream = async_stream(head, move |tx| async move {
        while let Some(line) = rx.recv().await {
            if !opts.keep(&line) {
                continue;
            }
            let Some(chunk) = limit.take(opts.render(&line)) else {
                break;
            };
            if tx.send(chunk).await.is_err() || limit.exhausted() {
                break;
            }
        }
    });
    Ok(text(crate::api::streaming_body(stream)))
}

/// A stream that yields `head` and then what `producer` sends.
fn async_stream<F, Fut>(head: Vec<Bytes>, producer: F) -> impl futures::Stream<Item = Bytes>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Bytes>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use futures::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(producer(tx));
    futures::stream::iter(head.into_iter().filter(|b| !b.is_empty()))
        .chain(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// A `text/plain` 200 answer.
pub(super) fn text(body: Body) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

/// The error for a pod whose node has no container runtime.
pub fn no_runtime(pod: &str) -> ApiError {
    ApiError::bad_request(format!(
        "the pod {pod} runs on a node that has no container runtime in this simulator"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubelet::streams::StreamKind;

    fn line(secs: i64, text: &str) -> LogLine {
        LogLine {
            time: Timestamp::from_second(secs).unwrap(),
            stream: StreamKind::Stdout,
            bytes: Bytes::from(format!("{text}\n")),
        }
    }

    #[test]
    fn options_parse_and_validate() {
        let now = Timestamp::from_second(100).unwrap();
        let p = Params::parse("sinceSeconds=10&tailLines=2&timestamps=true&limitBytes=5").unwrap();
        let o = LogOptions::parse(&p, "p", now).unwrap();
        assert_eq!(o.since, Some(Timestamp::from_second(90).unwrap()));
        assert_eq!(o.tail_lines, Some(2));
        assert_eq!(o.limit_bytes, Some(5));
        assert!(o.timestamps);
        let p = Params::parse("sinceSeconds=0").unwrap();
        let e = LogOptions::parse(&p, "p", now).unwrap_err();
        assert_eq!(e.code, 422);
        let p = Params::parse("sinceSeconds=3&sinceTime=1970-01-01T00:00:00Z").unwrap();
        assert_eq!(LogOptions::parse(&p, "p", now).unwrap_err().code, 422);
    }

    #[test]
    fn history_selection_applies_since_then_tail() {
        let history = vec![line(1, "a"), line(2, "b"), line(3, "c"), line(4, "d")];
        let opts = LogOptions {
            since: Some(Timestamp::from_second(2).unwrap()),
            tail_lines: Some(2),
            ..LogOptions::default()
        };
        assert_eq!(select_history(&opts, &history).concat(), b"c\nd\n");
        let opts = LogOptions {
            timestamps: true,
            tail_lines: Some(1),
            ..LogOptions::default()
        };
        assert_eq!(
            select_history(&opts, &history).concat(),
            b"1970-01-01T00:00:04Z d\n"
        );
        let mut l = Limit(Some(3));
        assert_eq!(l.take(Bytes::from_static(b"ab")).unwrap(), "ab");
        assert_eq!(l.take(Bytes::from_static(b"cd")).unwrap(), "c");
        assert!(l.take(Bytes::from_static(b"e")).is_none());
    }
}
