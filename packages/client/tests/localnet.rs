//! The client against a real wasmd node on loopback, started by this test with
//! `localnet/start` (never a mock chain): queries, gas simulation, signing, inclusion,
//! contract errors, sequence recovery and a node restart in the middle.

use serde_json::{json, Value};
use tavdun_client::{ChainClient, ChainConfig, ClientError, Signer, Wallet};
use tavdun_testkit::{self as testkit, Localnet};

fn wallet(chain: &ChainClient, name: &str) -> Wallet {
    Wallet::new(chain.clone(), testkit::signer(name)).unwrap()
}

fn token_wasm() -> Vec<u8> {
    let path = testkit::artifacts().join("tavdun_token.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run scripts/build-wasm first",
            path.display()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_against_a_real_node() {
    let dir = testkit::TempDir::new("client-test");
    let net = Localnet::start(dir.path().join("chain"));
    let chain = ChainClient::new(ChainConfig {
        grpc_url: net.grpc_url(),
        ..ChainConfig::localnet()
    })
    .unwrap();
    let deployer = wallet(&chain, "deployer");
    let client1 = wallet(&chain, "client1");

    // Accounts and native balances of the genesis accounts.
    let info = chain.account(&deployer.address()).await.unwrap();
    assert_eq!(info.sequence, 0);
    assert_eq!(
        chain.balance(&deployer.address(), "stake").await.unwrap(),
        1_000_000_000_000
    );
    // The BIP39 test vector: a valid key that no genesis account uses.
    let abandon = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
    let stranger = Signer::from_mnemonic(abandon, "wasm").unwrap();
    assert!(matches!(
        chain.account(stranger.address().as_ref()).await,
        Err(ClientError::AccountNotFound { .. })
    ));

    // Store and instantiate the TRN token; gas is simulated and the fee paid in stake.
    let (code_id, stored) = deployer.store_code(token_wasm()).await.unwrap();
    assert!(code_id > 0 && stored.gas_used > 0 && stored.gas_used <= stored.gas_wanted);
    let before = chain.balance(&deployer.address(), "stake").await.unwrap();
    let init = tavdun_market_api::token::InstantiateMsg {
        initial_balances: vec![cw20::Cw20Coin {
            address: deployer.address(),
            amount: 1_000_000u128.into(),
        }],
        minter: Some(deployer.address()),
        cap: None,
        marketing: None,
    };
    let (token, tx) = deployer.instantiate(code_id, "trn", &init).await.unwrap();
    let fee_paid = before - chain.balance(&deployer.address(), "stake").await.unwrap();
    assert_eq!(
        fee_paid,
        (tx.gas_wanted as u128).div_ceil(1000),
        "fee = gas * 0.001stake"
    );

    // The simulation prices the whole transaction, fee deduction included (~15,000 gas): a
    // wallet that adds only 10% to it still lands a small transaction.
    let tight = ChainClient::new(ChainConfig {
        grpc_url: net.grpc_url(),
        gas_adjustment: 1.1,
        ..ChainConfig::localnet()
    })
    .unwrap();
    let small = json!({"transfer": {"recipient": client1.address(), "amount": "1"}});
    let tx = wallet(&tight, "deployer")
        .execute_contract(&token, &small)
        .await
        .expect("a 10% margin on the simulated gas is enough");
    assert!(tx.gas_used <= tx.gas_wanted);

    // A typed smart query and a transfer.
    let transfer = json!({"transfer": {"recipient": client1.address(), "amount": "2500"}});
    deployer.execute_contract(&token, &transfer).await.unwrap();
    let balance: Value = chain
        .query(&token, &json!({"balance": {"address": client1.address()}}))
        .await
        .unwrap();
    assert_eq!(balance["balance"], "2501");

    // The contract's refusal comes back as its own message, in a typed error.
    let too_much = json!({"transfer": {"recipient": deployer.address(), "amount": "999999"}});
    let err = client1
        .execute_contract(&token, &too_much)
        .await
        .unwrap_err();
    let message = err
        .contract_message()
        .expect("a contract error")
        .to_string();
    assert!(
        message.contains("Overflow") || message.contains("overflow"),
        "{message}"
    );
    let err = chain
        .query::<_, Value>(&token, &json!({"no_such_query": {}}))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Contract { .. }), "{err}");

    // A second wallet on the same key makes the first one's cached sequence stale: the
    // first recovers from the "account sequence mismatch" by itself.
    let twin = wallet(&chain, "deployer");
    twin.execute_contract(&token, &transfer).await.unwrap();
    deployer.execute_contract(&token, &transfer).await.unwrap();
    let balance: Value = chain
        .query(&token, &json!({"balance": {"address": client1.address()}}))
        .await
        .unwrap();
    assert_eq!(balance["balance"], "7501");

    // The node goes away and comes back: the same client carries on.
    net.stop();
    let restart = {
        let dir = net.dir().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(std::time::Duration::from_secs(2));
            testkit::script(&dir, "start")
        })
    };
    let during: Value = chain
        .query(&token, &json!({"balance": {"address": client1.address()}}))
        .await
        .expect("the query is retried until the node is back");
    assert_eq!(during["balance"], "7501");
    assert!(restart.await.unwrap().success());
    deployer.execute_contract(&token, &transfer).await.unwrap();
    assert!(chain.latest_height().await.unwrap() > 2);
}
