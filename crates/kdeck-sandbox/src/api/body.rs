//! Request bodies in (JSON, YAML, protobuf) and responses out.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use serde_json::Value;

use crate::rest::ApiError;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Bodies larger than this are refused, like the real server's 3 MiB object limit
/// with headroom for patches of large objects.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

pub fn json_response(code: u16, value: &Value) -> Response<Body> {
    raw_json_response(code, Bytes::from(serde_json::to_vec(value).unwrap_or_default()))
}

pub fn raw_json_response(code: u16, bytes: Bytes) -> Response<Body> {
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The Status of an error; as kube-apiserver's `ErrorNegotiated`, a
/// `retryAfterSeconds` in its details is also sent as `Retry-After`.
pub fn error_response(err: &ApiError) -> Response<Body> {
    let mut resp = raw_json_response(err.code, err.body());
    if let Some(seconds) = err.details.as_ref().and_then(|d| d["retryAfterSeconds"].as_u64()).filter(|&s| s > 0) {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    resp
}

pub fn parse_yaml_or_json(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the request body is not valid UTF-8"))?;
    serde_saphyr::from_str::<Value>(text).map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
}

/// Decodes a request body by its Content-Type.
pub fn decode(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    let value = match mime {
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => parse_yaml_or_json(body)?,
        "application/vnd.kubernetes.protobuf" => super::protobuf::decode(body).map_err(|e| ApiError::bad_request(e.to_string()))?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    if !value.is_object() {
        return Err(ApiError::bad_request("the request body must be an object"));
    }
    Ok(value)
}

/// A request's body. Dropped before its end (an answer given without reading it: a
/// 404, a refusal), it is read to its end in the background, up to [`MAX_BODY`] and
/// [`DRAIN_WITHIN`], as Go's server reads what a handler left: closing a connection
/// while the client still sends resets it, and the client loses the answer with it.
pub struct RequestBody {
    inner: Option<hyper::body::Incoming>,
}

/// How long an unread request body is read in the background before the connection
/// is given up.
pub const DRAIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

impl RequestBody {
    pub fn new(inner: hyper::body::Incoming) -> Self {
        RequestBody { inner: Some(inner) }
    }
}

impl hyper::body::Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, hyper::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => std::pin::Pin::new(inner).poll_frame(cx),
            None => std::task::Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(hyper::body::Body::is_end_stream)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.as_ref().map(hyper::body::Body::size_hint).unwrap_or_default()
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take().filter(|b| !hyper::body::Body::is_end_stream(b)) else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = tokio::time::timeout(DRAIN_WITHIN, http_body_util::Limited::new(inner, MAX_BODY).collect()).await;
            });
        }
    }
}

/// Reads the whole request body, refusing oversized ones.
pub async fn collect(body: RequestBody) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::new(413, "RequestEntityTooLarge", format!("the request body is larger than {MAX_BODY} bytes")))
        }
        Err(e) => Err(ApiError::bad_request(format!("cannot read the request body: {e}"))),
    }
}
