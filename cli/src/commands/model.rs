//! `tavdun model register | list | show`.

use std::path::PathBuf;

use clap::Subcommand;
use cosmwasm_std::Uint128;
use tavdun_sdk::amount::{format_trn, parse_trn};
use tavdun_sdk::api::ModelInfo;
use tavdun_sdk::deploy::{register_msg, weights_uri};
use tavdun_sdk::model_dir::load_any;
use tavdun_sdk::SdkError;

use crate::app::{pretty, App};
use crate::error::Result;

#[derive(Subcommand)]
pub enum ModelCmd {
    /// Register a model directory (spec.json + weights.safetensors, spec version 1 or 2).
    Register {
        dir: PathBuf,
        /// Where workers fetch the weights (URL or path); default: the local file.
        #[arg(long)]
        weights_uri: Option<String>,
        #[arg(long, default_value = "0.01")]
        min_fee: String,
        #[arg(long, default_value_t = 1)]
        min_tier: u8,
    },
    /// Every registered model.
    List,
    Show {
        /// Model name (from the deployment) or id.
        model: String,
    },
}

pub async fn run(app: &App, cmd: ModelCmd) -> Result<()> {
    match cmd {
        ModelCmd::Register {
            dir,
            weights_uri: uri,
            min_fee,
            min_tier,
        } => {
            let model = load_any(&dir)?;
            let msg = register_msg(
                &model,
                uri.unwrap_or_else(|| weights_uri(&dir)),
                min_tier,
                Uint128::new(parse_trn(&min_fee)?),
            );
            let tx = app.signing_market()?.execute(&msg).await?;
            let id = hex::encode(model.id());
            let out =
                serde_json::json!({"model_id": id, "name": model.name(), "txhash": tx.txhash});
            app.print(&out, |_| format!("registered {} as {id}", model.name()));
        }
        ModelCmd::List => {
            let models = app.market()?.models().await?;
            app.print(&models, |models| {
                models.iter().map(model_line).collect::<Vec<_>>().join("\n")
            });
        }
        ModelCmd::Show { model } => {
            let model_id = app.deployment()?.model_id(&model);
            let info = app.market()?.model(&model_id).await?;
            let info = info.ok_or(SdkError::NotFound {
                what: "model",
                id: model,
            })?;
            app.print(&info, pretty);
        }
    }
    Ok(())
}

fn model_line(m: &ModelInfo) -> String {
    format!(
        "{} {} min fee {} TRN, tier {}{}",
        m.model_id,
        m.spec.name,
        format_trn(m.min_fee.u128()),
        m.min_tier,
        if m.active { "" } else { " (inactive)" }
    )
}
