//! What Tavdun's tests share, so that no helper exists twice:
//!
//! - [`multitest`] (feature `multitest`): the contracts on cw-multi-test and a deployed-market
//!   fixture, for the token's and the market's tests;
//! - [`Localnet`]: a real wasmd network started with `localnet/start` in a directory of its
//!   own (never a mock chain);
//! - [`world::World`]: TRN and the market deployed on such a network, the test accounts'
//!   wallets, balances and job helpers, for the end-to-end tests of every program;
//! - [`minilm`] (feature `minilm`): MiniLM registered on such a network, its tokenizer, and a
//!   worker played by the test with core's reference forward pass;
//! - [`lies`]: liars' traces of graph models, for dispute tests on either;
//! - [`process::Service`]: a worker node or a relayer run as a real process, to be stopped,
//!   killed and started again.

pub mod lies;
#[cfg(feature = "minilm")]
pub mod minilm;
#[cfg(feature = "multitest")]
pub mod multitest;
pub mod process;
pub mod world;

use std::path::{Path, PathBuf};
use std::process::Command;

use tavdun_sdk::keys::TestAccounts;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `scripts/build-wasm` wrote the contracts, or `$TAVDUN_ARTIFACTS`.
pub fn artifacts() -> PathBuf {
    std::env::var_os("TAVDUN_ARTIFACTS").map_or_else(|| repo().join("artifacts"), PathBuf::from)
}

/// A fresh directory for one test's files (`$TMPDIR/tavdun-<name>-<pid>`), deleted when
/// dropped, except after a failure, when its logs and chain data are what one reads next.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tavdun-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The repository's `localnet/accounts.json` (public, test-only keys).
pub fn accounts_file() -> PathBuf {
    repo().join(TestAccounts::DEFAULT_PATH)
}

/// The test accounts of [`accounts_file`].
pub fn test_accounts() -> TestAccounts {
    TestAccounts::load(&accounts_file()).expect("localnet/accounts.json is committed")
}

/// A test account's signer on the local network (bech32 prefix `wasm`).
pub fn signer(name: &str) -> tavdun_sdk::client::Signer {
    test_accounts()
        .signer(name, "wasm")
        .unwrap_or_else(|e| panic!("test account {name}: {e}"))
}

fn port_offset() -> u16 {
    std::env::var("TAVDUN_LOCALNET_PORT_OFFSET")
        .ok()
        .map(|v| {
            v.parse()
                .expect("TAVDUN_LOCALNET_PORT_OFFSET is a port offset")
        })
        .unwrap_or(0)
}

/// The gRPC endpoint of the network [`Localnet::start`] starts in this process.
pub fn grpc_url() -> String {
    format!("http://127.0.0.1:{}", 9090 + port_offset())
}

/// The CometBFT RPC endpoint of that network (what cosmjs clients connect to).
pub fn rpc_url() -> String {
    format!("http://127.0.0.1:{}", 26657 + port_offset())
}

/// A one-validator local network with its data in `dir`; stopped and deleted on drop.
///
/// It listens on the standard localnet ports shifted by `$TAVDUN_LOCALNET_PORT_OFFSET`
/// (default 0): tests in one process share the ports, so each test binary starts one network
/// at a time; two binaries run side by side only with different offsets.
pub struct Localnet {
    dir: PathBuf,
    port_offset: u16,
}

impl Localnet {
    /// Wipes `dir` and starts a fresh chain there; returns once blocks are produced.
    pub fn start(dir: PathBuf) -> Localnet {
        Localnet::start_validators(dir, 1)
    }

    /// The same with `validators` validators (the endpoints are validator 0's).
    pub fn start_validators(dir: PathBuf, validators: u32) -> Localnet {
        let net = Localnet {
            dir,
            port_offset: port_offset(),
        };
        net.script("wipe");
        net.run(&["start", "-n", &validators.to_string()]);
        net
    }

    /// The validator's gRPC endpoint.
    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", 9090 + self.port_offset)
    }

    /// Stops the node, keeping its data.
    pub fn stop(&self) {
        self.script("stop");
    }

    /// Starts the stopped node again on its data.
    pub fn restart(&self) {
        self.script("start");
    }

    /// Validator `i`'s CometBFT RPC endpoint.
    pub fn rpc_url_of(&self, i: u32) -> String {
        format!(
            "http://127.0.0.1:{}",
            26657 + u32::from(self.port_offset) + 10 * i
        )
    }

    /// Validator `i` dies by SIGKILL, as a machine losing power would (no clean shutdown).
    pub fn kill_validator(&self, i: u32) {
        let pidfile = self.dir.join(format!("node{i}.pid"));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {}", pidfile.display()));
        // SAFETY: kill(2) on the validator this network started; no memory is involved.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        // Not our child (the start script's shell started it), so not ours to reap: wait
        // until it is dead, a zombie counting as dead.
        let since = std::time::Instant::now();
        let alive = || {
            std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                !s.lines()
                    .any(|l| l.starts_with("State:") && l.contains('Z'))
            })
        };
        while alive() && since.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(pidfile);
    }

    /// Starts validator `i` again on its data, the others left as they are.
    pub fn start_validator(&self, i: u32) {
        self.run(&["start", "--node", &i.to_string()]);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn script(&self, name: &str) {
        self.run(&[name]);
    }

    fn run(&self, args: &[&str]) {
        let ok = Command::new(repo().join("localnet").join(args[0]))
            .args(&args[1..])
            .env("TAVDUN_LOCALNET_DIR", &self.dir)
            .status()
            .unwrap_or_else(|e| panic!("cannot run localnet/{}: {e}", args[0]))
            .success();
        assert!(ok, "localnet/{args:?} failed; see {}", self.dir.display());
    }
}

/// Runs a `localnet/` script on the network in `dir`.
pub fn script(dir: &Path, name: &str) -> std::process::ExitStatus {
    Command::new(repo().join("localnet").join(name))
        .env("TAVDUN_LOCALNET_DIR", dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run localnet/{name}: {e}"))
}

impl Drop for Localnet {
    fn drop(&mut self) {
        let _ = script(&self.dir, "wipe");
    }
}
