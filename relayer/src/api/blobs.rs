//! `/v1/blobs`: upload by body, download by hash, with single byte ranges.

use std::ops::Range;

use axum::body::{Body, Bytes};
use axum::extract::State as Extract;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{read_body, PathParam, QueryParams};
use crate::keys::Caller;
use crate::state::State;
use crate::store::BlobHash;
use crate::views::BlobReceipt;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PutParams {
    /// The sha256 the body must have; the upload is refused if it hashes otherwise.
    pub sha256: Option<String>,
}

/// Stores the request body and names it by its sha256.
#[utoipa::path(
    put,
    path = "/v1/blobs",
    tag = "blobs",
    params(PutParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Stored (storing the same bytes again is harmless)", body = BlobReceipt),
        (status = 400, description = "`hash_mismatch`, `invalid_hash`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 503, description = "`storage_unavailable`", body = ErrorBody),
    )
)]
pub async fn put_blob(
    Extract(state): Extract<State>,
    _caller: Caller,
    QueryParams(params): QueryParams<PutParams>,
    body: Body,
) -> Result<Response, ApiError> {
    let expected = params.sha256.as_deref().map(BlobHash::parse).transpose()?;
    let bytes = read_body(body, state.blobs.max_bytes()).await?;
    let size = bytes.len() as u64;
    let hash = state.blobs.put(bytes, expected.as_ref()).await?;
    let url = format!("/v1/blobs/{hash}");
    let receipt = BlobReceipt {
        sha256: hash.to_string(),
        size,
        url: url.clone(),
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, url)],
        Json(receipt),
    )
        .into_response())
}

/// The blob's bytes, checked against its hash before anything is sent. `Range: bytes=a-b`
/// (one range) answers 206; a range past the end answers 416.
#[utoipa::path(
    get,
    path = "/v1/blobs/{sha256}",
    tag = "blobs",
    params(("sha256" = String, Path, description = "64 hexadecimal digits")),
    responses(
        (status = 200, description = "The whole blob", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 206, description = "The requested range", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 400, description = "`invalid_hash`", body = ErrorBody),
        (status = 404, description = "`unknown_blob`", body = ErrorBody),
        (status = 416, description = "`range_not_satisfiable`", body = ErrorBody),
        (status = 500, description = "`blob_corrupted`: storage no longer holds the bytes named", body = ErrorBody),
    )
)]
pub async fn get_blob(
    Extract(state): Extract<State>,
    PathParam(hash): PathParam<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash = BlobHash::parse(&hash)?;
    let bytes = state.blobs.get(&hash).await?;
    let size = bytes.len() as u64;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    match requested_range(range, size) {
        Requested::Whole => Ok(blob_response(StatusCode::OK, &hash, size, bytes)),
        Requested::Part(r) => {
            let part = bytes.slice(r.start as usize..r.end as usize);
            let mut response =
                blob_response(StatusCode::PARTIAL_CONTENT, &hash, r.end - r.start, part);
            let content_range = format!("bytes {}-{}/{size}", r.start, r.end - 1);
            if let Ok(v) = HeaderValue::from_str(&content_range) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            Ok(response)
        }
        Requested::Unsatisfiable => Err(ApiError::RangeNotSatisfiable { size }),
    }
}

/// The blob's headers (size, ETag) without its bytes.
#[utoipa::path(
    head,
    path = "/v1/blobs/{sha256}",
    tag = "blobs",
    params(("sha256" = String, Path, description = "64 hexadecimal digits")),
    responses(
        (status = 200, description = "The blob exists; `Content-Length` is its size"),
        (status = 400, description = "`invalid_hash`"),
        (status = 404, description = "`unknown_blob`"),
    )
)]
pub async fn head_blob(
    Extract(state): Extract<State>,
    PathParam(hash): PathParam<String>,
) -> Result<Response, ApiError> {
    let hash = BlobHash::parse(&hash)?;
    let size = state.blobs.size(&hash).await?;
    Ok(blob_response(StatusCode::OK, &hash, size, Bytes::new()))
}

fn blob_response(status: StatusCode, hash: &BlobHash, length: u64, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // A name that is the content's hash never changes meaning: cache it for good.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        headers.insert(header::ETAG, etag);
    }
    response
}

#[derive(Debug, PartialEq, Eq)]
enum Requested {
    Whole,
    Part(Range<u64>),
    Unsatisfiable,
}

/// Reads a `Range` header against a blob of `size` bytes. A header this server does not
/// serve (another unit, several ranges, bad syntax) is ignored, as RFC 9110 allows, and the
/// whole blob is sent.
fn requested_range(header: Option<&str>, size: u64) -> Requested {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Requested::Whole;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Requested::Whole;
    };
    if spec.contains(',') {
        return Requested::Whole;
    }
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let range = match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => return Requested::Unsatisfiable,
            Some(n) => size.saturating_sub(n)..size,
            None => return Requested::Whole,
        },
        (start, "") => match number(start) {
            Some(start) => start..size,
            None => return Requested::Whole,
        },
        (start, end) => match (number(start), number(end)) {
            (Some(start), Some(end)) if start <= end => start..end.saturating_add(1).min(size),
            _ => return Requested::Whole,
        },
    };
    if range.start >= size {
        Requested::Unsatisfiable
    } else {
        Requested::Part(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        use Requested::*;
        let r = |h: &str| requested_range(Some(h), 100);
        assert_eq!(requested_range(None, 100), Whole);
        assert_eq!(r("bytes=0-9"), Part(0..10));
        assert_eq!(r("bytes=90-"), Part(90..100));
        assert_eq!(r("bytes=-5"), Part(95..100));
        assert_eq!(r("bytes=-500"), Part(0..100));
        assert_eq!(r("bytes=50-1000"), Part(50..100));
        assert_eq!(r("bytes=100-"), Unsatisfiable);
        assert_eq!(r("bytes=100-200"), Unsatisfiable);
        assert_eq!(r("bytes=-0"), Unsatisfiable);
        assert_eq!(requested_range(Some("bytes=0-0"), 0), Unsatisfiable);
        for ignored in [
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=9-2",
            "bytes=x-",
            "bytes=",
            "0-1",
        ] {
            assert_eq!(r(ignored), Whole, "{ignored}");
        }
    }
}
