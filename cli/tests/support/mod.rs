//! What the CLI's end-to-end tests share: the real `tavdun` binary, run with `--json`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use tavdun_testkit as testkit;

/// Runs the real `tavdun` binary with `--json` and returns whether it succeeded and its JSON
/// answer.
pub fn tavdun(deployment: &Path, from: &str, args: &[&str]) -> (bool, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_tavdun"))
        .current_dir(testkit::repo())
        .env("TAVDUN_GRPC_URL", testkit::grpc_url())
        .args(["--json", "--from", from, "--deployment"])
        .arg(deployment)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("tavdun {args:?} printed non-JSON ({e}): {text}"));
    (out.status.success(), value)
}
