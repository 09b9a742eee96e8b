//! What the end-to-end tests share: a real wasmd network started with `localnet/start` in a
//! directory of its own (never a mock chain), the test accounts' keys, and the contract
//! artifacts written by `scripts/build-wasm`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `scripts/build-wasm` wrote the contracts, or `$TAVDUN_ARTIFACTS`.
pub fn artifacts() -> PathBuf {
    std::env::var_os("TAVDUN_ARTIFACTS").map_or_else(|| repo().join("artifacts"), PathBuf::from)
}

/// The mnemonic of a test account of `localnet/accounts.json` (test-only keys).
pub fn mnemonic(name: &str) -> String {
    let path = repo().join("localnet/accounts.json");
    let text = std::fs::read_to_string(&path).expect("localnet/accounts.json is committed");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("accounts.json is JSON");
    doc["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == name)
        .and_then(|a| a["mnemonic"].as_str())
        .unwrap_or_else(|| panic!("no test account named {name}"))
        .to_string()
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
        let net = Localnet {
            dir,
            port_offset: port_offset(),
        };
        net.script("wipe");
        net.script("start");
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn script(&self, name: &str) {
        let ok = script(&self.dir, name).success();
        assert!(ok, "localnet/{name} failed; see {}", self.dir.display());
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
