//! The relayer over HTTP against a real wasmd node (localnet/start, never a mock chain) with
//! the market deployed: models listed, bad job requests answered with their typed errors,
//! API keys and quotas enforced, any job on chain readable, a job submitted over HTTP and
//! paid from the relayer's account, and a real worker (in-process) that fetches the model's
//! weights from the relayer by hash and serves a digit image submitted over HTTP, followed
//! to its verified prediction over HTTP and server-sent events.
//! One network for the whole binary: the scenarios run in sequence in one test.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use reqwest::header;
use serde_json::{json as j, Value};
use support::{expect_error, json, read_events, Server, TempDir, KEY, TIGHT_KEY};
use tavdun_core::bytes::from_i8;
use tavdun_relayer::error::ErrorCode;
use tavdun_relayer::views::{Decoded, JobResponse, ModelList, SubmittedJob};
use tavdun_relayer::Config;
use tavdun_sdk::api::{EndReason, ExecuteMsg, JobInput, JobStatus};
use tavdun_sdk::model_dir::load_model;
use tavdun_testkit::world::World;
use tavdun_testkit::{self as testkit, Localnet};
use tavdun_worker::config::{BondConfig, FileConfig};
use tavdun_worker::{CancellationToken, WorkerConfig};
use tokio::task::JoinHandle;

fn digits_dir() -> PathBuf {
    testkit::repo().join("models/digits")
}

/// The shipped example image (a handwritten 0): 64 pixel values.
fn example_image() -> Vec<f32> {
    let text = std::fs::read_to_string(digits_dir().join("example.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The relayer in front of a deployed market.
struct Relay {
    s: Server,
    world: World,
    digits: String,
}

impl Relay {
    async fn job(&self, id: u64) -> JobResponse {
        let response = self.s.get(&format!("/v1/jobs/{id}")).send().await.unwrap();
        serde_json::from_value(json(response, 200).await).unwrap()
    }

    async fn submit(&self, key: &str, body: &Value) -> SubmittedJob {
        let request = self.s.post("/v1/jobs").bearer_auth(key).json(body);
        let response = request.send().await.unwrap();
        let location = response.headers().get(header::LOCATION).cloned();
        let job: SubmittedJob = serde_json::from_value(json(response, 202).await).unwrap();
        assert_eq!(location.expect("a Location header"), job.url.as_str());
        job
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relayer_over_http_on_a_real_chain() {
    let tmp = TempDir::new("localnet");
    let net = Localnet::start(tmp.path().join("chain"));
    // TRN, the market, the digits model (min fee 0.01 TRN), every test account (the
    // relayer's included) funded.
    let world = World::deploy(tmp.path(), &[digits_dir()], 10_000).await;
    let deployment = world.deployment_file();
    let config = support::config(tmp.path(), &deployment, &net.grpc_url());
    let s = Server::start(config.clone()).await;
    let w = Relay {
        s,
        digits: world.deployment.models[0].model_id.clone(),
        world,
    };

    health_and_models(&w).await;
    bad_job_requests_get_typed_errors(&w).await;
    keys_and_quotas_are_enforced(&w).await;
    let open_job = any_job_on_chain_is_readable(&w).await;
    stopping_the_server_ends_open_event_streams(config, open_job).await;
    a_job_submitted_over_http_is_paid_by_the_relayer_and_streamed(&w).await;
    a_real_worker_serves_a_job_submitted_over_http(&w, &deployment, tmp.path()).await;

    w.s.stop().await;
    drop(net);
}

async fn health_and_models(w: &Relay) {
    let health = json(w.s.get("/healthz").send().await.unwrap(), 200).await;
    assert!(health["chain_height"].as_u64().unwrap() > 0);
    assert_eq!(health["relayer_address"], w.s.address.as_str());
    assert_eq!(w.s.address, World::address("relayer"));

    let list: ModelList =
        serde_json::from_value(json(w.s.get("/v1/models").send().await.unwrap(), 200).await)
            .unwrap();
    let [digits] = list.models.as_slice() else {
        panic!("one model is registered: {list:?}")
    };
    assert_eq!(digits.model_id, w.digits);
    assert_eq!(digits.name, "digits");
    assert!(digits.active && digits.classifier);
    assert_eq!(digits.min_fee, "0.01");
    assert_eq!(digits.min_fee_utrn, "10000");
    assert_eq!(digits.input_shape, vec![1, 8, 8]);
    assert_eq!(
        (digits.input_scale.as_str(), digits.input_zero_point),
        ("0.25", 0)
    );
    assert_eq!(digits.output_shape, vec![10]);
    assert_eq!(digits.layers, 5);
}

async fn bad_job_requests_get_typed_errors(w: &Relay) {
    let s = &w.s;
    let post = |body: Value| s.post("/v1/jobs").bearer_auth(KEY).json(&body);
    let image = example_image();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);

    let message = expect_error(
        post(j!({"model": "no-such-model", "input": {"values": image}})),
        404,
        ErrorCode::UnknownModel,
    )
    .await;
    assert!(message.contains("no-such-model"), "{message}");
    expect_error(
        post(j!({"model": "ab".repeat(32), "input": {"values": image}})),
        404,
        ErrorCode::UnknownModel,
    )
    .await;
    let message = expect_error(
        post(j!({"model": "digits", "input": {"values": [1.0, 2.0, 3.0]}})),
        400,
        ErrorCode::WrongInputLength,
    )
    .await;
    assert!(message.contains("64") && message.contains('3'), "{message}");
    expect_error(
        post(j!({"model": w.digits, "input": {"base64": b64(&[0u8; 65])}})),
        400,
        ErrorCode::WrongInputLength,
    )
    .await;
    for bad in ["not base64!", "AAA", "AA==AA=="] {
        expect_error(
            post(j!({"model": "digits", "input": {"base64": bad}})),
            400,
            ErrorCode::BadBase64,
        )
        .await;
    }
    for bad in ["abc", "-1", "1e3", "0.0000001"] {
        expect_error(
            post(j!({"model": "digits", "input": {"values": image}, "fee": bad})),
            400,
            ErrorCode::InvalidFee,
        )
        .await;
    }
    let message = expect_error(
        post(j!({"model": "digits", "input": {"values": image}, "fee": "0.001"})),
        400,
        ErrorCode::FeeBelowMinimum,
    )
    .await;
    assert!(message.contains("0.01"), "{message}");
    for bad in [0, 1, 365 * 24 * 3600] {
        expect_error(
            post(j!({"model": "digits", "input": {"values": image}, "deadline_secs": bad})),
            400,
            ErrorCode::InvalidDeadline,
        )
        .await;
    }
    expect_error(s.get("/v1/jobs/1000000"), 404, ErrorCode::UnknownJob).await;
    expect_error(s.get("/v1/jobs/1000000/events"), 404, ErrorCode::UnknownJob).await;
}

async fn keys_and_quotas_are_enforced(w: &Relay) {
    let s = &w.s;
    let body = j!({"model": "digits", "input": {"values": example_image()}});
    expect_error(s.post("/v1/jobs").json(&body), 401, ErrorCode::Unauthorized).await;
    expect_error(
        s.post("/v1/jobs")
            .bearer_auth("test-key-with-a-large-quotb")
            .json(&body),
        401,
        ErrorCode::Unauthorized,
    )
    .await;
    let mut pricey = body.clone();
    pricey["fee"] = j!("0.05");
    let message = expect_error(
        s.post("/v1/jobs").bearer_auth(TIGHT_KEY).json(&pricey),
        403,
        ErrorCode::FeeAboveLimit,
    )
    .await;
    assert!(message.contains("0.02"), "{message}");
    // The refused request did not use the key's one job per hour.
    w.submit(TIGHT_KEY, &body).await;
    let request = s.post("/v1/jobs").bearer_auth(TIGHT_KEY).json(&body);
    let response = request.try_clone().unwrap().send().await.unwrap();
    let retry_after: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (3000..=3600).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    expect_error(request, 429, ErrorCode::QuotaExceeded).await;
    // Other keys are not affected.
    w.submit(KEY, &body).await;
}

async fn any_job_on_chain_is_readable(w: &Relay) -> u64 {
    let client = w.world.wallet("client1");
    let input: Vec<i8> = example_image().iter().map(|&p| (p * 4.0) as i8).collect();
    let deadline = client.deadline_in(600).await.unwrap();
    let (id, _) = client
        .submit_job(&w.digits, JobInput::inline(&input), 20_000, deadline)
        .await
        .unwrap();
    let job = w.job(id).await;
    assert_eq!(job.id, id);
    assert_eq!(job.client, World::address("client1"));
    assert_eq!(job.status, JobStatus::Open);
    assert_eq!((job.fee.as_str(), job.fee_utrn.as_str()), ("0.02", "20000"));
    assert_eq!(job.model_id, w.digits);
    assert!(job.output.is_none() && job.worker.is_none());
    let v = &job.verification;
    assert!(!v.posted && !v.finalized && !v.disputed && !v.slashed);
    assert!(v.window_ends_at.is_none());
    id
}

async fn stopping_the_server_ends_open_event_streams(config: Config, job_id: u64) {
    let s = Server::start(config).await;
    let events = s.get(&format!("/v1/jobs/{job_id}/events"));
    let reader = tokio::spawn(read_events(events, Duration::from_secs(60)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = std::time::Instant::now();
    s.stop().await;
    let events = reader.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "job");
}

async fn a_job_submitted_over_http_is_paid_by_the_relayer_and_streamed(w: &Relay) {
    let before = w.world.trn(&w.s.address).await;
    let image = example_image();
    let submitted = w
        .submit(
            KEY,
            &j!({"model": "digits", "input": {"values": image}, "fee": "0.05"}),
        )
        .await;
    assert_eq!(submitted.model_id, w.digits);
    assert_eq!(
        (submitted.fee.as_str(), submitted.fee_utrn.as_str()),
        ("0.05", "50000")
    );
    assert_eq!(submitted.url, format!("/v1/jobs/{}", submitted.job_id));
    assert_eq!(w.world.trn(&w.s.address).await, before - 50_000);

    let job = w.job(submitted.job_id).await;
    assert_eq!(job.client, w.s.address);
    assert_eq!(job.status, JobStatus::Open);

    // The same image as base64 int8 is the same input: q = 4 * pixel.
    let bytes: Vec<u8> = image.iter().map(|&p| (p * 4.0) as u8).collect();
    let twin = w
        .submit(
            KEY,
            &j!({"model": w.digits, "input": {"base64": base64::engine::general_purpose::STANDARD.encode(bytes)}}),
        )
        .await;
    assert_eq!(w.job(twin.job_id).await.input_hash, job.input_hash);

    // Without a worker the stream shows the open job and stays open.
    let events = read_events(w.s.get(&submitted.events_url), Duration::from_secs(2)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "job");
    let streamed: JobResponse = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(streamed, job);
}

/// A worker node in this process, serving as `worker1` on the CPU backend; it bonds its stake
/// itself.
fn start_worker(
    deployment: &Path,
    grpc_url: &str,
    dir: &Path,
) -> (CancellationToken, JoinHandle<()>) {
    let file = FileConfig {
        deployment: Some(deployment.to_path_buf()),
        grpc_url: Some(grpc_url.into()),
        account: Some("worker1".into()),
        accounts: Some(testkit::accounts_file()),
        poll_interval_ms: Some(300),
        cache_dir: Some(dir.join("worker-cache")),
        metrics_addr: Some("off".into()),
        backend: Some("flex".into()),
        bond: Some(BondConfig {
            amount: "200".into(),
            max_tier: 1,
        }),
        ..FileConfig::default()
    };
    let config = WorkerConfig::from_file(file, |_| None).expect("worker config");
    let stop = CancellationToken::new();
    let node = tokio::spawn(tavdun_worker::run(config, stop.clone()));
    let task = tokio::spawn(async move {
        node.await.unwrap().expect("the worker runs until stopped");
    });
    (stop, task)
}

async fn a_real_worker_serves_a_job_submitted_over_http(w: &Relay, deployment: &Path, dir: &Path) {
    // The model's weights live in the relayer, and the market points workers there.
    let weights = std::fs::read(digits_dir().join("weights.safetensors")).unwrap();
    let response =
        w.s.put("/v1/blobs")
            .bearer_auth(KEY)
            .body(weights)
            .send()
            .await
            .unwrap();
    let blob = json(response, 201).await;
    let weights_uri = format!("{}{}", w.s.url, blob["url"].as_str().unwrap());
    let update = ExecuteMsg::UpdateModel {
        model_id: w.digits.clone(),
        active: None,
        min_fee: None,
        min_tier: None,
        weights_uri: Some(weights_uri.clone()),
    };
    w.world.wallet("deployer").execute(&update).await.unwrap();
    let list: ModelList =
        serde_json::from_value(json(w.s.get("/v1/models").send().await.unwrap(), 200).await)
            .unwrap();
    assert_eq!(list.models[0].weights_uri, weights_uri);

    let image = example_image();
    let submitted = w
        .submit(
            KEY,
            &j!({"model": "digits", "input": {"values": image}, "fee": "0.05"}),
        )
        .await;
    let stream = tokio::spawn(read_events(
        w.s.get(&submitted.events_url),
        Duration::from_secs(240),
    ));
    let (stop, worker) = start_worker(deployment, &testkit::grpc_url(), dir);
    let events = stream.await.unwrap();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(60), worker)
        .await
        .expect("the worker stops within 60 s")
        .unwrap();

    // Open, (claimed,) posted with its output, finalized: in that order, then `end`.
    let (last, jobs) = events.split_last().expect("events");
    assert_eq!(
        (last.event.as_str(), last.data.as_str()),
        ("end", "\"finalized\""),
        "{events:?}"
    );
    let jobs: Vec<JobResponse> = jobs
        .iter()
        .map(|e| {
            assert_eq!(e.event, "job", "{events:?}");
            serde_json::from_str(&e.data).unwrap()
        })
        .collect();
    let states: Vec<JobStatus> = jobs.iter().map(|j| j.status).collect();
    let order = [
        JobStatus::Open,
        JobStatus::Claimed,
        JobStatus::Posted,
        JobStatus::Finalized,
    ];
    assert_eq!(states[0], JobStatus::Open, "{states:?}");
    assert!(
        states.windows(2).all(|p| {
            let rank = |s| order.iter().position(|o| *o == s).unwrap();
            rank(p[0]) < rank(p[1])
        }),
        "{states:?}"
    );
    assert!(
        states.ends_with(&[JobStatus::Posted, JobStatus::Finalized]),
        "{states:?}"
    );
    let posted = &jobs[jobs.len() - 2];
    let v = &posted.verification;
    assert!(v.posted && !v.finalized && !v.disputed && !v.slashed);
    let posted_at = v.posted_at.unwrap();
    assert_eq!(v.window_ends_at, Some(posted_at + 60));

    // The verified prediction, read back over HTTP: the image is a 0, and the scores are the
    // reference executor's logits for it.
    let job = w.job(submitted.job_id).await;
    assert_eq!(&job, jobs.last().unwrap());
    assert_eq!(job.status, JobStatus::Finalized);
    assert_eq!(job.end_reason, Some(EndReason::ResultAccepted));
    assert_eq!(
        job.worker.as_deref(),
        Some(World::address("worker1").as_str())
    );
    let v = &job.verification;
    assert!(v.posted && v.finalized && !v.disputed && !v.slashed && v.dispute.is_none());
    let output = job.output.expect("the posted output");
    let Decoded::Classifier {
        class_scores,
        argmax,
    } = output.decoded
    else {
        panic!("digits is a classifier: {:?}", output.decoded)
    };
    assert_eq!(argmax, 0);
    let model = load_model(&digits_dir()).unwrap();
    let input: Vec<i8> = image.iter().map(|&p| (p * 4.0) as i8).collect();
    let reference = tavdun_core::forward(&model, &input).unwrap();
    assert_eq!(&class_scores, reference.last().unwrap());
    let raw = base64::engine::general_purpose::STANDARD
        .decode(output.raw)
        .unwrap();
    assert_eq!(raw, from_i8(&class_scores));
}
