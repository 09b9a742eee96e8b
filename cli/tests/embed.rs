//! `tavdun embed` end to end on a real wasmd node started by this test, with MiniLM
//! registered from the files `scripts/setup` generates and served by a worker the test plays
//! itself with core's reference forward pass: the printed vectors are core's output / 2^14
//! exactly, with their verification; `--wait final` answers once the window closed; unknown
//! models, empty texts and a missing tokenizer are refused before anything is paid.

mod support;

use std::sync::Arc;

use serde_json::Value;
use support::tavdun;
use tavdun_core::graph::trace_root;
use tavdun_sdk::api::JobStatus;
use tavdun_testkit::minilm::{self, ReferenceWorker};
use tavdun_testkit::world::World;
use tavdun_testkit::{Localnet, TempDir};

const FEE: u128 = 10_000;
const TEXTS: [&str; 2] = ["A friend is a present you give yourself.", "Cats sleep."];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embed_prints_verified_vectors() {
    // Fails (never skips) without the generated files.
    let model = Arc::new(minilm::model());
    let tokenizer = minilm::tokenizer_path();
    let tokenizer = tokenizer.to_str().unwrap().to_string();
    let tmp = TempDir::new("cli-embed");
    let net = Localnet::start(tmp.path().join("chain"));
    let world = World::deploy(tmp.path(), &[], FEE).await;
    let (model_id, _) = minilm::register(&world, &model, FEE).await;
    let deployment = world.deployment_file();
    let client = World::address("client1");
    // The CLI blocks: off the runtime's threads, so the worker's task keeps running.
    let embed = |args: Vec<String>| {
        let deployment = deployment.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            tavdun(&deployment, "client1", &args)
        })
    };
    let args = |extra: &[&str]| -> Vec<String> {
        ["embed", "--tokenizer", tokenizer.as_str()]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };

    // Refused before anything is paid.
    let jobs_before = world.market.jobs(None).await.unwrap().len();
    let (ok, out) = embed(args(&["--model", "no-such-model", "hi"]))
        .await
        .unwrap();
    assert!(!ok && out["error"] == "not_found", "{out}");
    let (ok, out) = embed(args(&["fine", " "])).await.unwrap();
    assert!(!ok && out["error"] == "input", "{out}");
    let (ok, out) = embed(vec!["embed".into(), "hi".into()]).await.unwrap();
    assert!(!ok && out["error"] == "input", "{out}");
    assert!(
        out["message"].as_str().unwrap().contains("--tokenizer"),
        "{out}"
    );
    assert_eq!(world.market.jobs(None).await.unwrap().len(), jobs_before);

    let worker = ReferenceWorker::start(&world, "worker1", model.clone(), &model_id).await;
    let trn_before = world.trn(&client).await;
    let (ok, out) = embed(args(&TEXTS)).await.unwrap();
    assert!(ok, "{out}");
    // `--wait final`: answered once the result's window closed with no successful challenge.
    let (ok, last) = embed(args(&["--wait", "final", TEXTS[1]])).await.unwrap();
    worker.stop().await;
    assert!(ok, "{last}");
    let v = &last["embeddings"][0]["verification"];
    assert_eq!(v["finalized"], Value::Bool(true), "{v}");
    let status: JobStatus = serde_json::from_value(v["status"].clone()).unwrap();
    assert_eq!(status, JobStatus::Finalized);
    assert_eq!(
        last["embeddings"][0]["embedding"], out["embeddings"][1]["embedding"],
        "the same text, the same vector"
    );
    assert_eq!(world.trn(&client).await, trn_before - 3 * FEE);
    assert_eq!(out["model"], "all-minilm-l6-v2");
    assert_eq!(out["model_id"], model_id.as_str());
    let embeddings = out["embeddings"].as_array().unwrap();
    assert_eq!(embeddings.len(), 2);
    let mut tokens = 0;
    for (i, (e, text)) in embeddings.iter().zip(TEXTS).enumerate() {
        let (input, trace) = minilm::reference(&model, text);
        tokens += input.ids.len() as u64;
        assert_eq!(e["index"], i);
        assert_eq!(e["text"], text);
        assert_eq!(e["tokens"], input.ids.len());
        let got: Vec<f32> = serde_json::from_value(e["embedding"].clone()).unwrap();
        let want: Vec<f32> = trace
            .output()
            .values
            .iter()
            .map(|&v| v as f32 / 16384.0)
            .collect();
        assert_eq!(got, want, "text {i}: exactly core's output / 2^14");
        let v = &e["verification"];
        let job = world.job(v["job_id"].as_u64().unwrap()).await;
        assert_eq!(
            (job.client.as_str(), job.model_id.as_str()),
            (client.as_str(), model_id.as_str())
        );
        assert_eq!(v["worker"], World::address("worker1").as_str());
        let status: JobStatus = serde_json::from_value(v["status"].clone()).unwrap();
        assert!(
            matches!(status, JobStatus::Posted | JobStatus::Finalized),
            "{v}"
        );
        let posted_at = v["posted_at"].as_u64().unwrap();
        assert_eq!(v["window_ends"], posted_at + 60);
        assert_eq!(v["disputed"], Value::Bool(false));
        assert_eq!(v["slashed"], Value::Bool(false));
        let root = hex::encode(trace_root(&input, &trace.node_roots()));
        assert_eq!(v["trace_root"], root.as_str());
    }
    assert_eq!(out["prompt_tokens"], tokens);
    drop(net);
}
