// The market through the generated TypeScript client alone, on a real local network (started
// by worker/tests/typescript_client.rs, which also runs a worker node): a worker bonds, a
// client submits a job, the node serves it, and the result is read back. Every message is
// built by the generated clients and hook builders; none is written by hand here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SigningCosmWasmClient } from "@cosmjs/cosmwasm-stargate";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { GasPrice } from "@cosmjs/stargate";
import { ISigningCosmWasmClient } from "../src/baseClient";
import { TavdunTokenClient } from "../src/TavdunToken.client";
import { TavdunMarketQueryClient } from "../src/TavdunMarket.client";
import { bond, submitJob } from "../src/TavdunMarketHooks";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through worker/tests/typescript_client.rs`);
  return value;
}

const rpc = env("TAVDUN_RPC_URL");
const deployment = JSON.parse(readFileSync(env("TAVDUN_DEPLOYMENT"), "utf8"));
const accounts: { name: string; mnemonic: string }[] = JSON.parse(
  readFileSync(env("TAVDUN_ACCOUNTS"), "utf8"),
).accounts;
/** The job's int8 input (base64) and the output core's reference executor gives for it. */
const input = env("TAVDUN_E2E_INPUT");
const expectedOutput = env("TAVDUN_E2E_EXPECTED_OUTPUT");
const modelId: string = deployment.models[0].model_id;
const market: string = deployment.market.address;

/** The generated clients speak ts-codegen's client interface; cosmjs's client fits it. */
function codegenClient(c: SigningCosmWasmClient): ISigningCosmWasmClient {
  return {
    queryContractSmart: (address, query) => c.queryContractSmart(address, query),
    execute: (sender, contract, msg, fee = "auto", memo, funds) =>
      c.execute(sender, contract, msg, fee, memo, funds),
  };
}

async function signer(name: string) {
  const account = accounts.find((a) => a.name === name);
  if (!account) throw new Error(`no test account ${name}`);
  const wallet = await DirectSecp256k1HdWallet.fromMnemonic(account.mnemonic, { prefix: "wasm" });
  const [{ address }] = await wallet.getAccounts();
  const client = await SigningCosmWasmClient.connectWithSigner(rpc, wallet, {
    gasPrice: GasPrice.fromString("0.001stake"),
  });
  const token = new TavdunTokenClient(codegenClient(client), address, deployment.token.address);
  return { address, client, token };
}

function attribute(events: readonly { type: string; attributes: readonly { key: string; value: string }[] }[], key: string) {
  for (const e of events) {
    if (e.type !== "wasm" || !e.attributes.some((a) => a.key === "_contract_address" && a.value === market)) continue;
    const found = e.attributes.find((a) => a.key === key);
    if (found) return found.value;
  }
  return undefined;
}

test("bond, submit, serve, read back", { timeout: 240_000 }, async () => {
  const worker = await signer("worker1");
  const client = await signer("client1");
  const query = new TavdunMarketQueryClient(codegenClient(client.client), market);

  // The worker bonds 200 TRN, declaring its hardware.
  const stake = "200000000";
  await worker.token.send({
    contract: market,
    amount: stake,
    msg: bond({ hardware: { description: "typescript e2e", max_tier: 1 } }),
  });
  const bonded = await query.worker({ address: worker.address });
  assert.equal(bonded.worker?.worker.stake, stake);
  assert.equal(bonded.worker?.worker.tier, 1);

  // The client submits one job at the model's minimum fee, due in ten minutes of block time.
  const model = await query.model({ modelId });
  assert.ok(model.model, "the deployed model is registered");
  const block = await client.client.getBlock();
  const nowNanos = BigInt(Date.parse(block.header.time)) * 1_000_000n;
  const deadline = (nowNanos + 600n * 1_000_000_000n).toString();
  const submitted = await client.token.send({
    contract: market,
    amount: model.model.min_fee,
    msg: submitJob({ model_id: modelId, input: { inline: { data: input } }, deadline }),
  });
  const jobId = Number(attribute(submitted.events, "job_id"));
  assert.ok(jobId > 0, "the market names the job it created");

  // The worker node claims it, runs it and posts the result.
  let job = (await query.job({ jobId })).job;
  for (let i = 0; i < 120 && job && !["posted", "finalized"].includes(job.status); i++) {
    await new Promise((r) => setTimeout(r, 1000));
    job = (await query.job({ jobId })).job;
  }
  assert.ok(job, "the job exists");
  assert.ok(["posted", "finalized"].includes(job.status), `job ${jobId} is ${job.status}`);
  assert.equal(job.worker, worker.address);
  assert.equal(job.result?.output, expectedOutput, "the posted output is the reference one");
  assert.match(job.result?.commitment ?? "", /^[0-9a-f]{64}$/, "one commitment to every layer's hash");
  const unknown = await query.job({ jobId: 1_000_000 });
  assert.equal(unknown.job, null, "a missing job is data, not an error");
});
