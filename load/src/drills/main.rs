//! `tavdun-drills`: faults under load on real local networks (wasmd validators, worker nodes
//! and a relayer as real processes, loopback only), each drill on a fresh network while
//! clients keep submitting digits jobs; after each, the audit of the chain (nothing lost,
//! nothing paid twice, no result paid that is not the reference one, books equal to the TRN
//! balance) and the drill's own checks. Every loop is bounded in count and time.
//!
//! ```text
//! scripts/drills worker-kill validator-restart          # the short versions (scripts/test-all)
//! scripts/drills --long worker-kill validators-down ... # the long versions, by hand
//! ```

mod cache;
mod chain;
mod relayer;
mod scene;
mod verifier;
mod worker_kill;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tavdun_load::audit::Audit;

#[derive(Parser)]
#[command(name = "tavdun-drills", about)]
struct Args {
    /// Drills to run, in order: worker-kill, validator-restart, validators-down,
    /// relayer-restart, verifier-restart, cache-unwritable.
    #[arg(required = true)]
    drills: Vec<String>,
    /// The long versions: more load, more faults, longer outages.
    #[arg(long)]
    long: bool,
    /// Where each drill keeps its network, configs and logs (one folder per drill, wiped
    /// when the drill starts, kept afterwards for reading).
    #[arg(long, default_value = "localnet/data/drills")]
    dir: PathBuf,
}

/// How long a drill waits, after its clients stop, for every job to end: the challenge
/// window (60 s) and the finalization after it, with room for claims that expired (another
/// 60 s) to be served again.
pub const DRAIN: Duration = Duration::from_secs(200);

/// How hard and how long a drill pushes.
#[derive(Clone, Copy)]
pub struct Size {
    /// Jobs per second offered, both clients together.
    pub rate: f64,
    /// Seconds the clients submit.
    pub seconds: u64,
    /// Faults injected (kills, outages), where a drill repeats them.
    pub faults: u32,
    /// Seconds a validator stays down.
    pub outage: u64,
}

impl Size {
    fn of(long: bool) -> Size {
        if long {
            Size {
                rate: 6.0,
                seconds: 150,
                faults: 6,
                outage: 60,
            }
        } else {
            Size {
                rate: 4.0,
                seconds: 20,
                faults: 2,
                outage: 6,
            }
        }
    }
}

/// What a drill saw besides the audit.
#[derive(Default)]
pub struct Findings {
    /// From the end of each fault to the market serving again.
    pub recovery: Vec<Duration>,
    /// The drill's own checks that failed (empty: passed).
    pub failures: Vec<String>,
    /// What else it saw (kills by window, retries in the metrics, ...).
    pub notes: Vec<String>,
}

impl Findings {
    /// Records how long `what` took to come back, or that it did not.
    pub fn recovered(&mut self, took: Option<Duration>, what: &str) {
        match took {
            Some(d) => self.recovery.push(d),
            None => self
                .failures
                .push(format!("{what} did not come back in time")),
        }
    }
}

/// What a drill measured, for RELIABILITY.md.
pub struct Outcome {
    pub audit: Audit,
    /// Submissions that failed on the client's side (the chain was down).
    pub failed_submissions: u32,
    pub findings: Findings,
}

impl Outcome {
    fn passed(&self) -> bool {
        self.audit.holds() && self.findings.failures.is_empty()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    // The localnet scripts and the nodes run elsewhere than here: paths must not be relative.
    let root = match std::path::absolute(&args.dir) {
        Ok(root) => root,
        Err(e) => {
            eprintln!("--dir {}: {e}", args.dir.display());
            return ExitCode::from(2);
        }
    };
    let size = Size::of(args.long);
    let mut all_passed = true;
    for name in &args.drills {
        let dir = root.join(name);
        let started = Instant::now();
        println!(
            "\n=== drill {name} ({}) ===",
            if args.long { "long" } else { "short" }
        );
        let outcome = match name.as_str() {
            "worker-kill" => worker_kill::run(&dir, size).await,
            "validator-restart" => chain::validator_restart(&dir, size).await,
            "validators-down" => chain::validators_down(&dir, size).await,
            "relayer-restart" => relayer::run(&dir, size).await,
            "verifier-restart" => verifier::run(&dir, size).await,
            "cache-unwritable" => cache::run(&dir, size).await,
            other => {
                eprintln!("unknown drill `{other}`");
                return ExitCode::from(2);
            }
        };
        match outcome {
            Ok(o) => {
                o.audit.print();
                println!("failed submissions (client side) {}", o.failed_submissions);
                let recovery: Vec<String> = o
                    .findings
                    .recovery
                    .iter()
                    .map(|d| format!("{:.1} s", d.as_secs_f64()))
                    .collect();
                println!("recovery after each fault: {}", recovery.join(", "));
                for note in &o.findings.notes {
                    println!("note: {note}");
                }
                for failure in &o.findings.failures {
                    println!("FAILED: {failure}");
                }
                let passed = o.passed();
                all_passed &= passed;
                println!(
                    "drill {name}: {} in {:.0} s",
                    if passed { "passed" } else { "FAILED" },
                    started.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                all_passed = false;
                println!(
                    "drill {name}: FAILED to run: {e:#} (logs in {})",
                    dir.display()
                );
            }
        }
    }
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
