//! Drill 6: a worker node whose weights cache cannot be written, beside a healthy node under
//! load. One node's cache directory is a regular file (unwritable as a directory, whoever the
//! user); another's sits on a full disk (a 64 KiB tmpfs filled up; skipped, and said so, where
//! mounting is not allowed). Each must say what is wrong, in its log and on `/health`, claim
//! nothing it cannot run, leave no partial file in its cache, and serve once the operator
//! fixes the directory, without a restart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tavdun_testkit::process::Service;
use tavdun_testkit::world::World;

use crate::scene::Scene;
use crate::{Findings, Outcome, Size, DRAIN};

/// A node whose cache cannot be written, and how to repair it.
struct Broken {
    node: Service,
    account: &'static str,
    cache: PathBuf,
    /// What the log must name.
    symptom: &'static str,
}

/// A tmpfs of 64 KiB at `at`, filled up; `None` where mounting is not allowed.
fn full_disk(at: &Path) -> Option<()> {
    std::fs::create_dir_all(at).ok()?;
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(at)
        .status()
        .ok()?
        .success();
    if !mounted {
        return None;
    }
    // Leaves less room than the digits weights (5 KiB).
    let _ = std::fs::write(at.join("filler"), vec![0u8; 62 * 1024]);
    Some(())
}

fn unmount(at: &Path) {
    let _ = Command::new("umount").arg(at).status();
}

/// Files left in the cache other than verified weights (a partial write).
fn leftovers(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "filler" && !n.ends_with(".safetensors"))
        .collect()
}

pub async fn run(dir: &Path, size: Size) -> anyhow::Result<Outcome> {
    let scene = Scene::new(dir, 1).await?;
    let _healthy = scene.worker("worker1", "worker1", "");
    let mut notes = Vec::new();
    let mut failures = Vec::new();

    // The cache directory is a regular file.
    let file_cache = dir.join("cache-not-a-dir");
    std::fs::write(&file_cache, b"not a directory")?;
    let mut broken = vec![Broken {
        node: scene.worker("not-a-dir", "worker2", ""),
        account: "worker2",
        cache: file_cache,
        symptom: "caching weights in",
    }];
    let disk = dir.join("cache-disk-full");
    if full_disk(&disk).is_some() {
        broken.push(Broken {
            node: scene.worker("disk-full", "worker3", ""),
            account: "worker3",
            cache: disk.clone(),
            symptom: "No space left on device",
        });
    } else {
        notes.push("disk full: skipped (mounting a tmpfs is not allowed here)".into());
    }
    scene.bonded(&["worker1"]).await?;
    let load = scene.load(size.rate / 2.0, 4, size.seconds);
    tokio::time::sleep(Duration::from_secs(10)).await;

    for b in &mut broken {
        let (code, body) = b.node.get("/health").await.unwrap_or_default();
        let log = b.node.log_text();
        if !b.node.is_running() {
            failures.push(format!(
                "{}: exited instead of waiting for a fix",
                b.node.name
            ));
        }
        if code == 200 || !log.contains(b.symptom) {
            failures.push(format!(
                "{}: not reported clearly (/health {code}: {body}; log lacks `{}`)",
                b.node.name, b.symptom
            ));
        }
        let claimed = scene.held_by(b.account).await?;
        if !claimed.is_empty() {
            failures.push(format!(
                "{}: claimed {claimed:?} it could not run",
                b.node.name
            ));
        }
        let left = leftovers(&b.cache);
        if !left.is_empty() {
            failures.push(format!(
                "{}: partial files left in its cache: {left:?}",
                b.node.name
            ));
        }
        let said = log
            .lines()
            .find(|l| l.contains(b.symptom))
            .unwrap_or_default()
            .to_string();
        notes.push(format!("{}: /health {code}; log: {said}", b.node.name));
    }

    // The operator repairs the directories; each node serves without a restart.
    let _ = std::fs::remove_file(dir.join("cache-not-a-dir"));
    let _ = std::fs::remove_file(disk.join("filler"));
    let mut recovery = Vec::new();
    let repaired = Instant::now();
    for b in &broken {
        let address = World::address(b.account);
        loop {
            let worker = scene.world.market.worker(&address).await?;
            let serving = worker.is_some_and(|w| w.worker.jobs_done > 0)
                || b.node.metric("tavdun_worker_jobs_posted_total").await > 0.0;
            if serving {
                recovery.push(repaired.elapsed());
                break;
            }
            if repaired.elapsed() > Duration::from_secs(60) {
                failures.push(format!(
                    "{}: posted nothing within 60 s of the repair",
                    b.node.name
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let mut outcome = scene.finish(load, DRAIN, Findings::default()).await?;
    drop(broken);
    unmount(&disk);
    notes.push("recovery: from the repair until the node posted a result".into());
    outcome.findings = Findings {
        recovery,
        failures,
        notes,
    };
    Ok(outcome)
}
