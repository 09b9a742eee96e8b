//! `tavdun balance` and `tavdun withdraw`: TRN, claimable and gas balances; pull payments out.

use tavdun_sdk::amount::{format_trn, parse_trn};

use crate::app::App;
use crate::error::Result;

/// TRN, claimable TRN in the market and gas tokens of `address` (default: the signer).
pub async fn show(app: &App, address: Option<String>) -> Result<()> {
    let market = app.market()?;
    let address = match address {
        Some(a) => a,
        None => app.signer_address()?,
    };
    let trn = market.trn_balance(&address).await?;
    let claimable = market.claimable(&address).await?;
    let denom = &app.settings.chain.denom;
    let gas = market.chain().balance(&address, denom).await?;
    let out = serde_json::json!({
        "address": address,
        "trn": trn.to_string(),
        "claimable": claimable.to_string(),
        denom.clone(): gas.to_string(),
    });
    app.print(&out, |_| {
        format!(
            "{address}\n  TRN        {}\n  claimable  {}\n  gas        {gas} {denom}",
            format_trn(trn),
            format_trn(claimable),
        )
    });
    Ok(())
}

/// Withdraws the signer's claimable TRN (all of it, matured unbonding included, unless
/// `amount`, in TRN).
pub async fn withdraw(app: &App, amount: Option<String>) -> Result<()> {
    let amount = amount.map(|a| parse_trn(&a)).transpose()?;
    let tx = app.signing_market()?.withdraw(amount).await?;
    let paid: u128 = tx
        .wasm_attributes("amount")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_default();
    let out = serde_json::json!({"txhash": tx.txhash, "amount": paid.to_string()});
    app.print(&out, |_| {
        format!("withdrawn {} TRN (tx {})", format_trn(paid), tx.txhash)
    });
    Ok(())
}
