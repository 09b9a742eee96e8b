//! TRN on cw-multi-test: fixed metadata, supply policy, and cw20 behaviour through the wrapper.

use cosmwasm_std::{Addr, Uint128};
use cw20::{
    BalanceResponse, Cw20Coin, Cw20ExecuteMsg, Cw20QueryMsg, MarketingInfoResponse, MinterResponse,
    TokenInfoResponse,
};
use cw20_base::msg::InstantiateMarketingInfo;
use cw_multi_test::{App, Executor};
use tavdun_market_api::token::{InstantiateMsg, MigrateMsg};
use tavdun_testkit::multitest::token_contract as token;
use tavdun_token::ContractError;

struct Setup {
    app: App,
    token: Addr,
    minter: Addr,
    alice: Addr,
    code: u64,
}

fn setup(minter: bool, cap: Option<u128>) -> anyhow::Result<Setup> {
    let mut app = App::default();
    let code = app.store_code(token());
    let (admin, minter_addr, alice) = (
        app.api().addr_make("admin"),
        app.api().addr_make("minter"),
        app.api().addr_make("alice"),
    );
    let msg = InstantiateMsg {
        initial_balances: vec![Cw20Coin {
            address: alice.to_string(),
            amount: Uint128::new(1_000),
        }],
        minter: minter.then(|| minter_addr.to_string()),
        cap: cap.map(Uint128::new),
        marketing: Some(InstantiateMarketingInfo {
            project: Some("Tavdun".into()),
            description: Some("Pays for verifiable inference".into()),
            marketing: Some(admin.to_string()),
            logo: None,
        }),
    };
    let token = app.instantiate_contract(
        code,
        admin.clone(),
        &msg,
        &[],
        "TRN",
        Some(admin.to_string()),
    )?;
    Ok(Setup {
        app,
        token,
        minter: minter_addr,
        alice,
        code,
    })
}

fn balance(s: &Setup, who: &Addr) -> u128 {
    let r: BalanceResponse = s
        .app
        .wrap()
        .query_wasm_smart(
            s.token.clone(),
            &Cw20QueryMsg::Balance {
                address: who.to_string(),
            },
        )
        .unwrap();
    r.balance.u128()
}

#[test]
fn metadata_is_fixed_and_marketing_is_set() {
    let s = setup(true, Some(5_000)).unwrap();
    let info: TokenInfoResponse = s
        .app
        .wrap()
        .query_wasm_smart(s.token.clone(), &Cw20QueryMsg::TokenInfo {})
        .unwrap();
    assert_eq!(
        (info.name.as_str(), info.symbol.as_str(), info.decimals),
        ("Tavdun Token", "TRN", 6)
    );
    assert_eq!(info.total_supply.u128(), 1_000);
    let m: MarketingInfoResponse = s
        .app
        .wrap()
        .query_wasm_smart(s.token.clone(), &Cw20QueryMsg::MarketingInfo {})
        .unwrap();
    assert_eq!(m.project.as_deref(), Some("Tavdun"));
    let minter: Option<MinterResponse> = s
        .app
        .wrap()
        .query_wasm_smart(s.token.clone(), &Cw20QueryMsg::Minter {})
        .unwrap();
    assert_eq!(
        minter.map(|m| (m.minter, m.cap)),
        Some((s.minter.to_string(), Some(Uint128::new(5_000))))
    );
}

#[test]
fn only_the_minter_mints_and_never_past_the_cap() {
    let mut s = setup(true, Some(5_000)).unwrap();
    let alice = s.alice.clone();
    let mint = |amount: u128| Cw20ExecuteMsg::Mint {
        recipient: alice.to_string(),
        amount: Uint128::new(amount),
    };
    let err = s
        .app
        .execute_contract(alice.clone(), s.token.clone(), &mint(1), &[])
        .unwrap_err();
    assert_eq!(
        err.downcast::<ContractError>().unwrap(),
        ContractError::Base(cw20_base::ContractError::Unauthorized {})
    );
    s.app
        .execute_contract(s.minter.clone(), s.token.clone(), &mint(4_000), &[])
        .unwrap();
    assert_eq!(balance(&s, &alice), 5_000);
    let err = s
        .app
        .execute_contract(s.minter.clone(), s.token.clone(), &mint(1), &[])
        .unwrap_err();
    assert_eq!(
        err.downcast::<ContractError>().unwrap(),
        ContractError::Base(cw20_base::ContractError::CannotExceedCap {})
    );
}

#[test]
fn a_cap_without_a_minter_is_refused() {
    let err = setup(false, Some(5_000)).err().expect("refused");
    assert_eq!(
        err.downcast::<ContractError>().unwrap(),
        ContractError::CapWithoutMinter
    );
    // Without a minter the supply is fixed.
    let mut s = setup(false, None).unwrap();
    let alice = s.alice.clone();
    let mint = Cw20ExecuteMsg::Mint {
        recipient: alice.to_string(),
        amount: Uint128::one(),
    };
    assert!(s
        .app
        .execute_contract(alice, s.token.clone(), &mint, &[])
        .is_err());
}

#[test]
fn transfers_go_through_cw20_base() {
    let mut s = setup(true, None).unwrap();
    let (alice, bob) = (s.alice.clone(), s.app.api().addr_make("bob"));
    let transfer = Cw20ExecuteMsg::Transfer {
        recipient: bob.to_string(),
        amount: Uint128::new(400),
    };
    s.app
        .execute_contract(alice.clone(), s.token.clone(), &transfer, &[])
        .unwrap();
    assert_eq!((balance(&s, &alice), balance(&s, &bob)), (600, 400));
    let too_much = Cw20ExecuteMsg::Transfer {
        recipient: bob.to_string(),
        amount: Uint128::new(601),
    };
    assert!(s
        .app
        .execute_contract(alice, s.token.clone(), &too_much, &[])
        .is_err());
}

#[test]
fn migrate_records_this_version() {
    let mut s = setup(true, None).unwrap();
    let admin = s.app.api().addr_make("admin");
    s.app
        .migrate_contract(admin, s.token.clone(), &MigrateMsg {}, s.code)
        .unwrap();
    let v = cw2::query_contract_info(&s.app.wrap(), s.token.to_string()).unwrap();
    assert_eq!(v.contract, "crates.io:tavdun-token");
    assert_eq!(balance(&s, &s.alice), 1_000);
}
