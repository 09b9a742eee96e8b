//! The generated TypeScript client, alone, against a real wasmd node and a real worker node:
//! `schema/ts/e2e/market.test.ts` (node's test runner, cosmjs, the generated clients and hook
//! builders, no hand-written message JSON) bonds the worker, submits a job, waits for the
//! node's result and reads it back. This test starts the network and the node, compiles the
//! TypeScript and runs it.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cosmwasm_std::Binary;
use support::start_worker;
use tavdun_core::bytes::from_i8;
use tavdun_core::forward;
use tavdun_sdk::model_dir::load_model;
use tavdun_testkit::world::World;
use tavdun_testkit::{self as testkit, Localnet};

/// Where `scripts/setup` installs TypeScript, cosmjs and the type definitions.
fn node_modules() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    Path::new(&home).join(".cache/tavdun/npm/node_modules")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_client_bonds_submits_and_reads_back() {
    let dir = testkit::TempDir::new("ts-e2e");
    let tmp = dir.path();
    let net = Localnet::start(tmp.join("chain"));
    let digits = testkit::repo().join("models/digits");
    let w = World::deploy(tmp, std::slice::from_ref(&digits), 10_000).await;

    // The example image (a handwritten 0), quantised as any client would, and the output
    // core's reference executor gives for it.
    let model = load_model(&digits).unwrap();
    let text = std::fs::read_to_string(digits.join("example.json")).unwrap();
    let pixels: Vec<f32> = serde_json::from_str(&text).unwrap();
    let input = model.spec.input.quant.quantize(&pixels);
    let expected = forward(&model, &input).unwrap().pop().unwrap();

    // A node that is not bonded yet: the TypeScript client bonds its account.
    let mut node = start_worker(tmp, "node", "worker1", "");

    let ts = testkit::repo().join("schema/ts");
    let modules = node_modules();
    assert!(
        modules.join(".bin/tsc").exists(),
        "{} has no TypeScript: run scripts/setup",
        modules.display()
    );
    let link = ts.join("node_modules");
    if !link.exists() {
        std::os::unix::fs::symlink(&modules, &link).expect("link schema/ts/node_modules");
    }
    let out = tmp.join("ts-out");
    let compiled = Command::new(modules.join(".bin/tsc"))
        .args(["-p", "e2e", "--outDir"])
        .arg(&out)
        .current_dir(&ts)
        .status()
        .expect("tsc runs");
    assert!(compiled.success(), "the TypeScript test does not compile");

    let run = Command::new("node")
        .arg("--test")
        .arg(out.join("e2e/market.test.js"))
        .env("NODE_PATH", &modules)
        .env("TAVDUN_RPC_URL", testkit::rpc_url())
        .env("TAVDUN_DEPLOYMENT", w.deployment_file())
        .env("TAVDUN_ACCOUNTS", testkit::accounts_file())
        .env("TAVDUN_E2E_INPUT", Binary::new(from_i8(&input)).to_base64())
        .env(
            "TAVDUN_E2E_EXPECTED_OUTPUT",
            Binary::new(from_i8(&expected)).to_base64(),
        )
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}\n--- node log ---\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
        node.log_text()
    );
    assert!(
        run.status.success(),
        "the TypeScript test failed:\n{report}"
    );
    assert!(report.contains("# pass 1"), "{report}");
    assert!(node.terminate().success());
    drop(net);
}
