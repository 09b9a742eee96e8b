//! `tavdun worker bond | unbond | withdraw | show`: stake.

use clap::Subcommand;
use cosmwasm_std::Uint128;
use tavdun_sdk::amount::{format_trn, parse_trn};
use tavdun_sdk::api::{ExecuteMsg, HardwareDeclaration};

use crate::app::{pretty, App};
use crate::commands::balance;
use crate::error::Result;

#[derive(Subcommand)]
pub enum WorkerCmd {
    /// Bond TRN as stake, declaring the hardware (required on the first bond).
    Bond {
        amount: String,
        #[arg(long)]
        hardware: Option<String>,
        #[arg(long, default_value_t = 1)]
        max_tier: u8,
    },
    /// Start unbonding stake; it becomes withdrawable after the unbonding period.
    Unbond { amount: String },
    /// Withdraw claimable TRN (matured unbonding, earnings).
    Withdraw {
        #[arg(long)]
        amount: Option<String>,
    },
    /// A worker's stake, tier and record (default: the signer).
    Show { address: Option<String> },
}

pub async fn run(app: &App, cmd: WorkerCmd) -> Result<()> {
    match cmd {
        WorkerCmd::Bond {
            amount,
            hardware,
            max_tier,
        } => {
            let hardware = hardware.map(|description| HardwareDeclaration {
                description,
                max_tier,
            });
            let amount = parse_trn(&amount)?;
            let tx = app.signing_market()?.bond(amount, hardware).await?;
            let out = serde_json::json!({"txhash": tx.txhash, "bonded": amount.to_string()});
            app.print(&out, |_| format!("bonded {} TRN", format_trn(amount)));
        }
        WorkerCmd::Unbond { amount } => {
            let amount = Uint128::new(parse_trn(&amount)?);
            let tx = app
                .signing_market()?
                .execute(&ExecuteMsg::Unbond { amount })
                .await?;
            let out = serde_json::json!({"txhash": tx.txhash, "unbonding": amount});
            app.print(&out, |_| {
                format!("unbonding {} TRN", format_trn(amount.u128()))
            });
        }
        WorkerCmd::Withdraw { amount } => balance::withdraw(app, amount).await?,
        WorkerCmd::Show { address } => {
            let address = match address {
                Some(a) => a,
                None => app.signer_address()?,
            };
            let worker = app.market()?.require_worker(&address).await?;
            app.print(&worker, pretty);
        }
    }
    Ok(())
}
