//! Drill 4: the relayer killed by SIGKILL while its clients wait on server-sent event
//! streams, then restarted. Each client submits a job over HTTP, follows its events, and when
//! the stream breaks reconnects (once a second, for a bounded time) until the last event,
//! `end`. No job submitted through the relayer may be lost; the relayer's account pays each
//! job once (its TRN spent equals the fees of the jobs the chain holds from it); and the
//! clients read every result after the restart.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tavdun_load::observe::Submitted;
use tavdun_sdk::amount::format_trn;
use tavdun_sdk::api::JobFilter;
use tavdun_testkit::process::{free_port, Service};
use tavdun_testkit::world::World;
use tavdun_testkit::{self as testkit};
use tokio::sync::Barrier;

use crate::scene::{Scene, FEE};
use crate::{Findings, Outcome, Size, DRAIN};

const KEY: &str = "drill-key-0123456789";

/// What one client saw: its job, how often its stream broke, when it first had a stream
/// again after a break, the last status it read.
struct Followed {
    job_id: u64,
    reconnects: u32,
    back: Option<Instant>,
    end: Option<String>,
}

fn relayer_config(scene: &Scene, port: u16) -> String {
    format!(
        r#"listen = "127.0.0.1:{port}"
deployment = "{deployment}"
grpc_url = "{grpc}"
test_account = "relayer"
accounts = "{accounts}"

[blobs]
dir = "{blobs}"

[jobs]
poll_interval_ms = 500

[[api_keys]]
name = "drill"
key = "{KEY}"
jobs_per_window = 1000
window_secs = 3600
"#,
        deployment = scene.world.deployment_file().display(),
        grpc = testkit::grpc_url(),
        accounts = testkit::accounts_file().display(),
        blobs = scene.dir.join("blobs").display(),
    )
}

/// Reads the job's event stream until `end` (its data), or until the stream breaks or `limit`
/// passes (`None`); with when the stream opened, if it did.
async fn follow(
    http: &reqwest::Client,
    url: &str,
    limit: Duration,
) -> (Option<Instant>, Option<String>) {
    let Ok(mut response) = http.get(url).timeout(limit).send().await else {
        return (None, None);
    };
    if !response.status().is_success() {
        return (None, None);
    }
    let opened = Some(Instant::now());
    let mut text = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            if frame.lines().any(|l| l == "event: end" || l == "event:end") {
                let data = frame.lines().find_map(|l| l.strip_prefix("data:"));
                return (opened, Some(data.unwrap_or_default().trim().to_string()));
            }
        }
    }
    (opened, None)
}

/// One client: submits a job, then follows it, reconnecting when the stream breaks.
async fn client(
    http: reqwest::Client,
    base: String,
    values: Value,
    submitted: Arc<Barrier>,
    give_up: Instant,
) -> anyhow::Result<Followed> {
    let body = json!({"model": "digits", "input": {"values": values}, "fee": format_trn(FEE)});
    let response = http
        .post(format!("{base}/v1/jobs"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let answer: Value = response.json().await?;
    if status.as_u16() != 202 {
        bail!("submission answered {status}: {answer}");
    }
    let job_id = answer["job_id"].as_u64().context("a job id")?;
    submitted.wait().await;
    let url = format!("{base}/v1/jobs/{job_id}/events");
    let mut followed = Followed {
        job_id,
        reconnects: 0,
        back: None,
        end: None,
    };
    while Instant::now() < give_up {
        let (opened, end) = follow(&http, &url, give_up - Instant::now()).await;
        if followed.reconnects > 0 && followed.back.is_none() {
            followed.back = opened;
        }
        if end.is_some() {
            followed.end = end;
            break;
        }
        followed.reconnects += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(followed)
}

pub async fn run(dir: &Path, size: Size) -> anyhow::Result<Outcome> {
    let scene = Scene::new(dir, 1).await?;
    let _nodes: Vec<Service> = ["worker1", "worker2", "worker3"]
        .iter()
        .map(|w| scene.worker(w, w, ""))
        .collect();
    let port = free_port();
    let mut relayer = Service::start(
        &scene.binary("tavdun-relayer"),
        &scene.dir,
        "relayer",
        port,
        &relayer_config(&scene, port),
    );
    scene.bonded(&["worker1", "worker2", "worker3"]).await?;
    let relayer_address = World::address("relayer");
    let before = scene.world.trn(&relayer_address).await;
    let load = scene.load(size.rate / 2.0, 4, size.seconds);

    let http = reqwest::Client::new();
    let base = relayer.url();
    let since = Instant::now();
    while http.get(format!("{base}/health")).send().await.is_err() {
        if since.elapsed() > Duration::from_secs(30) {
            bail!("the relayer does not answer; see relayer.log");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let values: Value = serde_json::from_str(&std::fs::read_to_string(
        testkit::repo().join("models/digits/example.json"),
    )?)?;
    let clients = if size.faults > 2 { 24 } else { 8 };
    let submitted = Arc::new(Barrier::new(clients + 1));
    let give_up = Instant::now() + Duration::from_secs(240);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(client(
                http.clone(),
                base.clone(),
                values.clone(),
                submitted.clone(),
                give_up,
            ))
        })
        .collect();
    // Every client has its job and is (about to be) on its stream: the relayer dies.
    tokio::time::timeout(Duration::from_secs(60), submitted.wait())
        .await
        .context("the clients did not all submit within 60 s")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    relayer.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    relayer.restart();
    let back = Instant::now();

    let mut failures = Vec::new();
    let mut through_relayer = BTreeSet::new();
    let (mut reconnects, mut ended) = (0, 0);
    // When the last client had its stream back.
    let mut all_back = back;
    for task in tasks {
        match task.await? {
            Ok(f) => {
                through_relayer.insert(f.job_id);
                reconnects += f.reconnects;
                all_back = all_back.max(f.back.unwrap_or(back));
                match f.end.as_deref() {
                    Some("\"finalized\"") => ended += 1,
                    other => failures.push(format!("job {}: the client read {other:?}", f.job_id)),
                }
            }
            Err(e) => failures.push(format!("a client failed: {e:#}")),
        }
    }
    let read_all = back.elapsed();
    let reconnected = all_back - back;
    {
        // The audit follows these jobs too.
        let mut ledger = scene.ledger.lock().unwrap_or_else(|e| e.into_inner());
        for &id in &through_relayer {
            ledger.entry(id).or_insert(Submitted {
                at: back,
                posted: None,
            });
        }
    }
    let mut outcome = scene.finish(load, DRAIN, Findings::default()).await?;
    let on_chain = scene
        .world
        .market
        .jobs(Some(JobFilter::Client(relayer_address.clone())))
        .await?;
    let spent = before - scene.world.trn(&relayer_address).await;
    let charged: u128 = on_chain.iter().map(|j| j.fee.u128()).sum();
    if spent != charged {
        failures.push(format!(
            "the relayer's account spent {spent} for jobs worth {charged}"
        ));
    }
    if on_chain.len() != through_relayer.len() {
        failures.push(format!(
            "{} jobs on chain from the relayer, {} acknowledged to its clients",
            on_chain.len(),
            through_relayer.len()
        ));
    }
    outcome.findings = Findings {
        recovery: vec![reconnected],
        failures,
        notes: vec![
            format!(
                "{clients} HTTP clients, {ended} read `end: finalized` after {reconnects} reconnections in all"
            ),
            format!(
                "relayer account paid {} TRN for {} jobs, one fee each",
                format_trn(spent),
                on_chain.len()
            ),
            format!(
                "recovery: from the relayer's restart until every client had its stream back; every result read {:.1} s after the restart",
                read_all.as_secs_f64()
            ),
        ],
    };
    Ok(outcome)
}
