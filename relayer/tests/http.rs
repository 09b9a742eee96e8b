//! The relayer over HTTP on loopback, without a chain: the blob store (hash checks, ranges,
//! tampered storage, size limit), API-key checks, the OpenAPI document, and typed errors for
//! bad requests and for an unreachable chain node.

mod support;

use std::path::Path;
use std::time::Duration;

use reqwest::header;
use sha2::{Digest, Sha256};
use support::{expect_error, json, Server, TempDir, KEY, MAX_BLOB, MAX_JOB_BODY};
use tavdun_relayer::error::ErrorCode;
use tavdun_relayer::views::BlobReceipt;
use tavdun_sdk::deployment::{ContractRef, Deployment};

/// Nothing listens on port 1: every chain call fails as "unavailable".
const NO_NODE: &str = "http://127.0.0.1:1";

fn deployment_file(dir: &Path) -> std::path::PathBuf {
    let contract = |address: &str| ContractRef {
        code_id: 1,
        address: address.into(),
        checksum: String::new(),
    };
    let d = Deployment {
        chain_id: "tavdun-local".into(),
        grpc_url: NO_NODE.into(),
        deployer: "wasm1deployer".into(),
        token: contract("wasm1token"),
        market: contract("wasm1market"),
        models: vec![],
        height: 1,
    };
    let path = dir.join("deployment.json");
    d.save(&path).unwrap();
    path
}

async fn server(dir: &TempDir) -> Server {
    let deployment = deployment_file(dir.path());
    Server::start(support::config(dir.path(), &deployment, NO_NODE)).await
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
async fn blobs_are_stored_by_hash_and_read_back_whole_or_in_ranges() {
    let dir = TempDir::new("blobs");
    let s = server(&dir).await;
    let blob: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
    let hash = sha256(&blob);

    let response = s
        .put("/v1/blobs")
        .bearer_auth(KEY)
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    let receipt: BlobReceipt = serde_json::from_value(json(response, 201).await).unwrap();
    assert_eq!(receipt.sha256, hash);
    assert_eq!(receipt.size, 1000);
    assert_eq!(location, format!("/v1/blobs/{hash}"));
    assert_eq!(receipt.url, location);

    // The expected hash may be stated, in either case; storing again is harmless.
    let response = s
        .put(&format!("/v1/blobs?sha256={}", hash.to_uppercase()))
        .bearer_auth(KEY)
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(json(response, 201).await["sha256"], hash.as_str());

    let response = s.get(&location).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers[header::ETAG], format!("\"{hash}\"").as_str());
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    let body = response.bytes().await.unwrap();
    assert_eq!(sha256(&body), hash);
    assert_eq!(body.as_ref(), blob.as_slice());

    let response = s.head(&location).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CONTENT_LENGTH], "1000");
    assert!(response.bytes().await.unwrap().is_empty());

    for (range, part, content_range) in [
        ("bytes=10-19", &blob[10..20], "bytes 10-19/1000"),
        ("bytes=990-", &blob[990..], "bytes 990-999/1000"),
        ("bytes=-5", &blob[995..], "bytes 995-999/1000"),
        ("bytes=900-5000", &blob[900..], "bytes 900-999/1000"),
    ] {
        let response = s
            .get(&location)
            .header(header::RANGE, range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(response.headers()[header::CONTENT_RANGE], content_range);
        assert_eq!(response.bytes().await.unwrap().as_ref(), part, "{range}");
    }
    let request = s.get(&location).header(header::RANGE, "bytes=1000-");
    let response = request.try_clone().unwrap().send().await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes */1000");
    expect_error(request, 416, ErrorCode::RangeNotSatisfiable).await;
    // Several ranges are not served: the whole blob is.
    let response = s
        .get(&location)
        .header(header::RANGE, "bytes=0-1,5-6")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), 1000);

    // An empty blob is a blob too.
    let response = s
        .put("/v1/blobs")
        .bearer_auth(KEY)
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    let empty = json(response, 201).await;
    assert_eq!(empty["sha256"], sha256(b"").as_str());
    let response = s
        .get(&format!("/v1/blobs/{}", sha256(b"")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap().is_empty());
    s.stop().await;
}

#[tokio::test]
async fn wrong_hashes_oversize_bodies_and_missing_keys_are_refused_with_typed_errors() {
    let dir = TempDir::new("refusals");
    let s = server(&dir).await;
    let blob = b"model weights".to_vec();
    let other = sha256(b"something else");

    let message = expect_error(
        s.put(&format!("/v1/blobs?sha256={other}"))
            .bearer_auth(KEY)
            .body(blob.clone()),
        400,
        ErrorCode::HashMismatch,
    )
    .await;
    assert!(
        message.contains(&sha256(&blob)) && message.contains(&other),
        "{message}"
    );
    // Nothing was stored under either name.
    for name in [sha256(&blob), other] {
        expect_error(
            s.get(&format!("/v1/blobs/{name}")),
            404,
            ErrorCode::UnknownBlob,
        )
        .await;
    }
    expect_error(
        s.put("/v1/blobs?sha256=abc")
            .bearer_auth(KEY)
            .body(blob.clone()),
        400,
        ErrorCode::InvalidHash,
    )
    .await;
    for bad in ["abc", "zz", &"g".repeat(64)] {
        expect_error(
            s.get(&format!("/v1/blobs/{bad}")),
            400,
            ErrorCode::InvalidHash,
        )
        .await;
    }
    let too_big = vec![7u8; MAX_BLOB as usize + 1];
    let message = expect_error(
        s.put("/v1/blobs").bearer_auth(KEY).body(too_big.clone()),
        413,
        ErrorCode::BodyTooLarge,
    )
    .await;
    assert!(message.contains(&MAX_BLOB.to_string()), "{message}");
    // Also when the size is not announced up front (a chunked upload).
    let chunks = futures_stream(too_big);
    expect_error(
        s.put("/v1/blobs")
            .bearer_auth(KEY)
            .body(reqwest::Body::wrap_stream(chunks)),
        413,
        ErrorCode::BodyTooLarge,
    )
    .await;

    let response = s.put("/v1/blobs").body(blob.clone()).send().await.unwrap();
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    expect_error(
        s.put("/v1/blobs").body(blob.clone()),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        s.put("/v1/blobs")
            .bearer_auth("not-a-key-of-this-relayer")
            .body(blob.clone()),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        s.put("/v1/blobs")
            .header(header::AUTHORIZATION, KEY)
            .body(blob),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    s.stop().await;
}

/// A body sent in 1 KiB chunks without a Content-Length.
fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    async_stream::stream! {
        for chunk in bytes.chunks(1024) {
            yield Ok(chunk.to_vec());
        }
    }
}

#[tokio::test]
async fn tampered_storage_is_refused_and_uploading_again_repairs_it() {
    let dir = TempDir::new("tamper");
    let s = server(&dir).await;
    let blob = b"the weights of a model".to_vec();
    let hash = sha256(&blob);
    let response = s
        .put("/v1/blobs")
        .bearer_auth(KEY)
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    json(response, 201).await;

    // The store's layout: blobs/sha256/<2 hex digits>/<hash>.
    let file = dir.path().join("blobs/sha256").join(&hash[..2]).join(&hash);
    let mut bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes, blob);
    bytes[0] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let location = format!("/v1/blobs/{hash}");
    expect_error(s.get(&location), 500, ErrorCode::BlobCorrupted).await;
    // Not even a range of it is served.
    expect_error(
        s.get(&location).header(header::RANGE, "bytes=1-3"),
        500,
        ErrorCode::BlobCorrupted,
    )
    .await;

    let response = s
        .put("/v1/blobs")
        .bearer_auth(KEY)
        .body(blob.clone())
        .send()
        .await
        .unwrap();
    json(response, 201).await;
    let response = s.get(&location).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), blob.as_slice());
    s.stop().await;
}

#[tokio::test]
async fn bad_job_requests_are_refused_before_the_chain_is_asked() {
    let dir = TempDir::new("jobs");
    let s = server(&dir).await;
    let good = serde_json::json!({"model": "digits", "input": {"values": [0.0]}});
    expect_error(s.post("/v1/jobs").json(&good), 401, ErrorCode::Unauthorized).await;
    expect_error(
        s.post("/v1/jobs").bearer_auth(KEY).body(good.to_string()),
        415,
        ErrorCode::UnsupportedMediaType,
    )
    .await;
    let big = serde_json::json!({"model": "digits", "input": {"values": vec![0.5; MAX_JOB_BODY as usize]}});
    expect_error(
        s.post("/v1/jobs").bearer_auth(KEY).json(&big),
        413,
        ErrorCode::BodyTooLarge,
    )
    .await;
    for bad in [
        serde_json::json!({"model": "digits"}),
        serde_json::json!({"model": "digits", "input": {"pixels": [1.0]}}),
        serde_json::json!({"model": "digits", "input": {"values": [1.0], "base64": "AA=="}}),
        serde_json::json!({"model": "digits", "input": {"values": ["one"]}}),
        serde_json::json!({"model": "digits", "input": {"values": [1.0]}, "fee": 0.5}),
        serde_json::json!({"model": "digits", "input": {"values": [1.0]}, "colour": "red"}),
    ] {
        expect_error(
            s.post("/v1/jobs").bearer_auth(KEY).json(&bad),
            400,
            ErrorCode::InvalidJson,
        )
        .await;
    }
    expect_error(
        s.post("/v1/jobs")
            .bearer_auth(KEY)
            .header(header::CONTENT_TYPE, "application/json")
            .body("{not json"),
        400,
        ErrorCode::InvalidJson,
    )
    .await;
    for bad in ["abc", "-1", "1.5", "18446744073709551616"] {
        expect_error(
            s.get(&format!("/v1/jobs/{bad}")),
            400,
            ErrorCode::InvalidJobId,
        )
        .await;
        expect_error(
            s.get(&format!("/v1/jobs/{bad}/events")),
            400,
            ErrorCode::InvalidJobId,
        )
        .await;
    }
    expect_error(s.get("/v1/nothing-here"), 404, ErrorCode::NotFound).await;
    expect_error(
        s.http.delete(format!("{}/v1/jobs/1", s.url)),
        405,
        ErrorCode::MethodNotAllowed,
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn an_unreachable_chain_node_is_a_503_not_a_500() {
    let dir = TempDir::new("no-chain");
    let s = server(&dir).await;
    let started = std::time::Instant::now();
    expect_error(s.get("/healthz"), 503, ErrorCode::ChainUnavailable).await;
    expect_error(s.get("/v1/jobs/1"), 503, ErrorCode::ChainUnavailable).await;
    expect_error(s.get("/v1/models"), 503, ErrorCode::ChainUnavailable).await;
    assert!(started.elapsed() < Duration::from_secs(30));
    s.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_error_code() {
    let dir = TempDir::new("openapi");
    let s = server(&dir).await;
    let doc = json(s.get("/openapi.json").send().await.unwrap(), 200).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = &doc["paths"];
    for (path, method) in [
        ("/v1/blobs", "put"),
        ("/v1/blobs/{sha256}", "get"),
        ("/v1/blobs/{sha256}", "head"),
        ("/v1/jobs", "post"),
        ("/v1/jobs/{id}", "get"),
        ("/v1/jobs/{id}/events", "get"),
        ("/v1/embeddings", "post"),
        ("/v1/models", "get"),
        ("/healthz", "get"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    for path in ["/v1/jobs", "/v1/embeddings"] {
        assert_eq!(
            paths[path]["post"]["security"][0]["api_key"],
            serde_json::json!([])
        );
    }
    let schemes = &doc["components"]["securitySchemes"]["api_key"];
    assert_eq!(schemes["scheme"], "bearer");
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "SubmitJob",
        "JobResponse",
        "Verification",
        "Decoded",
        "ModelList",
        "BlobReceipt",
        "ErrorBody",
        "EmbeddingsRequest",
        "EmbeddingsResponse",
        "ResultVerification",
        "EmbeddingProgress",
        "EmbeddingsSubmitted",
    ] {
        assert!(schemas[schema].is_object(), "schema {schema} missing");
    }
    let codes = schemas["ErrorCode"]["enum"].as_array().unwrap();
    for code in [
        "unauthorized",
        "quota_exceeded",
        "unknown_model",
        "wrong_input_length",
        "bad_base64",
        "body_too_large",
        "hash_mismatch",
        "blob_corrupted",
        "empty_input",
        "too_many_inputs",
        "no_tokenizer",
        "wait_timeout",
    ] {
        assert!(
            codes.iter().any(|c| c == code),
            "{code} not in the ErrorCode schema"
        );
    }
    s.stop().await;
}
