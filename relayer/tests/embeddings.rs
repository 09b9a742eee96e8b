//! `POST /v1/embeddings` against a real wasmd node with MiniLM registered from the files
//! `scripts/setup` generates, served by a worker the test plays itself with core's reference
//! forward pass: the vectors equal core's output / 2^14 exactly (as numbers and as base64),
//! with their verification, usage and the relayer's payment; typed errors; API-key quotas
//! counted per text; a wait that runs out; and the server-sent events up to finalisation.
//! One network for the whole binary: the scenarios run in sequence in one test.

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use reqwest::header;
use serde_json::{json as j, Value};
use support::{expect_error, json, read_events, Server, TempDir, KEY, TIGHT_KEY};
use tavdun_core::graph::{trace_root, GraphModel};
use tavdun_relayer::error::{ErrorBody, ErrorCode};
use tavdun_relayer::views::{EmbeddingProgress, EmbeddingVector, EmbeddingsResponse};
use tavdun_relayer::Config;
use tavdun_sdk::api::JobStatus;
use tavdun_testkit::minilm::{self, ReferenceWorker};
use tavdun_testkit::world::World;
use tavdun_testkit::Localnet;

/// MiniLM's fee per job (micro-TRN), below the tight key's 0.02 TRN limit.
const FEE: u128 = 10_000;
const MAX_INPUTS: u32 = 4;
const SHORT: [&str; 2] = ["A friend is a present you give yourself.", "Cats sleep."];

struct Embed {
    s: Server,
    world: World,
    model: Arc<GraphModel>,
    model_id: String,
}

impl Embed {
    async fn embed(&self, body: &Value) -> EmbeddingsResponse {
        let request = self.s.post("/v1/embeddings").bearer_auth(KEY).json(body);
        let response = request
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .unwrap();
        serde_json::from_value(json(response, 200).await).unwrap()
    }

    async fn job_count(&self) -> usize {
        self.world.market.jobs(None).await.unwrap().len()
    }

    /// Core's output for `text`, as the relayer must answer it, with the trace root.
    fn expected(&self, text: &str) -> (Vec<f32>, usize, String) {
        let (input, trace) = minilm::reference(&self.model, text);
        let out = trace.output();
        let vector = out.values.iter().map(|&v| v as f32 / 16384.0).collect();
        let root = hex::encode(trace_root(&input, &trace.node_roots()));
        (vector, input.ids.len(), root)
    }
}

fn config(base: Config, tokenizers: bool) -> Config {
    let mut config = base;
    config.embeddings.max_inputs = MAX_INPUTS;
    if tokenizers {
        config
            .embeddings
            .tokenizers
            .insert("all-minilm-l6-v2".into(), minilm::tokenizer_path());
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embeddings_over_http_on_a_real_chain() {
    // Fails (never skips) without the generated files.
    let model = Arc::new(minilm::model());
    let tmp = TempDir::new("embeddings");
    let net = Localnet::start(tmp.path().join("chain"));
    let world = World::deploy(tmp.path(), &[], FEE).await;
    let (model_id, _) = minilm::register(&world, &model, FEE).await;
    let base = support::config(tmp.path(), &world.deployment_file(), &net.grpc_url());
    let s = Server::start(config(base.clone(), true)).await;
    let e = Embed {
        s,
        world,
        model,
        model_id,
    };

    bad_requests_get_typed_errors(&e, base.clone()).await;
    a_wait_that_runs_out_names_the_paid_jobs(&e, base).await;
    let worker = ReferenceWorker::start(&e.world, "worker1", e.model.clone(), &e.model_id).await;
    vectors_equal_the_reference_with_their_verification(&e).await;
    base64_is_the_same_vector(&e).await;
    quotas_count_every_text(&e).await;
    streamed_until_finalized(&e).await;
    worker.stop().await;

    e.s.stop().await;
    drop(net);
}

async fn bad_requests_get_typed_errors(e: &Embed, base: Config) {
    let s = &e.s;
    let post = |body: Value| s.post("/v1/embeddings").bearer_auth(KEY).json(&body);
    let before = e.job_count().await;
    expect_error(
        s.post("/v1/embeddings")
            .json(&j!({"model": "all-minilm-l6-v2", "input": "hi"})),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_error(
        post(j!({"model": "all-minilm-l6-v2", "input": []})),
        400,
        ErrorCode::EmptyInput,
    )
    .await;
    let message = expect_error(
        post(j!({"model": "all-minilm-l6-v2", "input": ["fine", " "]})),
        400,
        ErrorCode::EmptyInput,
    )
    .await;
    assert!(message.contains("input[1]"), "{message}");
    let message = expect_error(
        post(j!({"model": "all-minilm-l6-v2", "input": vec!["a"; 5]})),
        400,
        ErrorCode::TooManyInputs,
    )
    .await;
    assert!(message.contains('4'), "{message}");
    for model in ["no-such-model", &"ab".repeat(32)] {
        let message = expect_error(
            post(j!({"model": model, "input": "hi"})),
            404,
            ErrorCode::UnknownModel,
        )
        .await;
        assert!(message.contains(model), "{message}");
    }
    for bad in [
        j!({"model": "all-minilm-l6-v2", "input": "hi", "encoding_format": "int8"}),
        j!({"model": "all-minilm-l6-v2", "input": "hi", "wait": "soon"}),
        j!({"model": "all-minilm-l6-v2", "input": [1, 2]}),
        j!({"model": "all-minilm-l6-v2"}),
    ] {
        expect_error(post(bad), 400, ErrorCode::InvalidJson).await;
    }
    // A relayer without MiniLM's tokenizer does not serve it, by id or by name.
    let bare = Server::start(config(base, false)).await;
    for model in ["all-minilm-l6-v2", e.model_id.as_str()] {
        expect_error(
            bare.post("/v1/embeddings")
                .bearer_auth(KEY)
                .json(&j!({"model": model, "input": "hi"})),
            400,
            ErrorCode::NoTokenizer,
        )
        .await;
    }
    bare.stop().await;
    assert_eq!(e.job_count().await, before, "no refused request paid a job");
}

async fn a_wait_that_runs_out_names_the_paid_jobs(e: &Embed, base: Config) {
    let mut config = config(base, true);
    config.embeddings.wait_timeout_secs = 2;
    // An account of its own: two relayers paying from one account would race for its
    // sequence numbers.
    config.test_account = Some("client2".into());
    let impatient = Server::start(config).await;
    // No worker serves yet.
    let response = impatient
        .post("/v1/embeddings")
        .bearer_auth(KEY)
        .json(&j!({"model": e.model_id, "input": SHORT}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 504);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.code, ErrorCode::WaitTimeout);
    let ids = body.error.job_ids.expect("the paid jobs' ids");
    assert_eq!(ids.len(), 2, "{}", body.error.message);
    for id in ids {
        let job = e.world.job(id).await;
        assert_eq!(job.status, JobStatus::Open);
        assert_eq!(job.client.as_str(), impatient.address);
        assert_eq!(job.model_id, e.model_id);
    }
    impatient.stop().await;
}

async fn vectors_equal_the_reference_with_their_verification(e: &Embed) {
    let before = e.world.trn(&e.s.address).await;
    let answer = e
        .embed(&j!({"model": "all-minilm-l6-v2", "input": SHORT, "user": "tests"}))
        .await;
    assert_eq!(e.world.trn(&e.s.address).await, before - 2 * FEE);
    assert_eq!(answer.object, "list");
    assert_eq!(answer.model, "all-minilm-l6-v2");
    assert_eq!(answer.model_id, e.model_id);
    assert_eq!(answer.data.len(), 2);
    let mut tokens = 0;
    for (i, (item, text)) in answer.data.iter().zip(SHORT).enumerate() {
        let (vector, n, root) = e.expected(text);
        tokens += n as u64;
        assert_eq!((item.object.as_str(), item.index), ("embedding", i));
        let EmbeddingVector::Float(got) = &item.embedding else {
            panic!("floats by default: {item:?}")
        };
        assert_eq!(got, &vector, "input {i}: exactly core's output / 2^14");
        let norm: f32 = got.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 0.01, "unit norm, found {norm}");
        let v = &item.verification;
        let job = e.world.job(v.job_id).await;
        assert_eq!(job.model_id, e.model_id);
        assert_eq!(job.client.as_str(), e.s.address);
        assert_eq!(job.fee.u128(), FEE);
        assert!(
            matches!(v.status, JobStatus::Posted | JobStatus::Finalized),
            "{v:?}"
        );
        assert_eq!(
            v.worker.as_deref(),
            Some(World::address("worker1").as_str())
        );
        let posted_at = v.posted_at.expect("posted");
        assert_eq!(v.window_ends, Some(posted_at + 60));
        assert_eq!(v.finalized, v.status == JobStatus::Finalized);
        assert!(!v.disputed && !v.slashed);
        assert_eq!(v.trace_root.as_deref(), Some(root.as_str()));
    }
    assert_ne!(
        answer.data[0].verification.job_id,
        answer.data[1].verification.job_id
    );
    assert_eq!(
        (answer.usage.prompt_tokens, answer.usage.total_tokens),
        (tokens, tokens)
    );
    // [CLS] cats sleep . [SEP]
    assert_eq!(e.expected(SHORT[1]).1, 5);
}

async fn base64_is_the_same_vector(e: &Embed) {
    let text = "Truncated: ".to_string() + &"word ".repeat(200);
    let answer = e
        .embed(&j!({"model": e.model_id, "input": text, "encoding_format": "base64"}))
        .await;
    let [item] = answer.data.as_slice() else {
        panic!("one input, one vector: {answer:?}")
    };
    let EmbeddingVector::Base64(b64) = &item.embedding else {
        panic!("base64 asked: {item:?}")
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let got: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let (vector, n, _) = e.expected(&text);
    assert_eq!(got, vector);
    // Over the model's 128 tokens: truncated as the tokenizer does, not refused.
    assert_eq!((n, answer.usage.prompt_tokens), (128, 128));
}

async fn quotas_count_every_text(e: &Embed) {
    let s = &e.s;
    let before = e.job_count().await;
    let post = |input: Value| {
        s.post("/v1/embeddings")
            .bearer_auth(TIGHT_KEY)
            .json(&j!({"model": "all-minilm-l6-v2", "input": input}))
    };
    // One job per hour: two texts are two jobs, refused together.
    expect_error(post(j!(SHORT)), 429, ErrorCode::QuotaExceeded).await;
    assert_eq!(e.job_count().await, before);
    let response = post(j!(SHORT[1]))
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .unwrap();
    let answer: EmbeddingsResponse = serde_json::from_value(json(response, 200).await).unwrap();
    assert_eq!(answer.data.len(), 1);
    assert_eq!(e.job_count().await, before + 1);
    let response = post(j!(SHORT[1])).send().await.unwrap();
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    expect_error(post(j!(SHORT[1])), 429, ErrorCode::QuotaExceeded).await;
    assert_eq!(e.job_count().await, before + 1);
}

async fn streamed_until_finalized(e: &Embed) {
    let request =
        e.s.post("/v1/embeddings")
            .bearer_auth(KEY)
            .header(header::ACCEPT, "text/event-stream")
            .json(&j!({"model": "all-minilm-l6-v2", "input": SHORT[1], "wait": "finalized"}));
    let events = read_events(request, Duration::from_secs(180)).await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names,
        ["submitted", "posted", "finalized", "embeddings"],
        "{events:?}"
    );
    let submitted: Value = serde_json::from_str(&events[0].data).unwrap();
    let job_id = submitted["job_ids"][0].as_u64().unwrap();
    assert_eq!(submitted["fee_utrn"], FEE.to_string());
    let posted: EmbeddingProgress = serde_json::from_str(&events[1].data).unwrap();
    assert_eq!((posted.index, posted.job_id), (0, job_id));
    assert!(posted.verification.posted_at.is_some() && !posted.verification.finalized);
    let finalized: EmbeddingProgress = serde_json::from_str(&events[2].data).unwrap();
    assert!(finalized.verification.finalized);
    assert_eq!(finalized.verification.status, JobStatus::Finalized);
    let answer: EmbeddingsResponse = serde_json::from_str(&events[3].data).unwrap();
    let v = &answer.data[0].verification;
    assert_eq!(v.job_id, job_id);
    assert!(v.finalized && !v.disputed && !v.slashed);
    let EmbeddingVector::Float(got) = &answer.data[0].embedding else {
        panic!("floats: {answer:?}")
    };
    assert_eq!(got, &e.expected(SHORT[1]).0);
}
