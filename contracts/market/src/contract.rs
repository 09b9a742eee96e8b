//! Entry points and dispatch only: every message goes to its handler in one hop.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{from_json, to_json_binary, Binary, Deps, DepsMut, Env, MessageInfo, Response};
use cw20::Cw20ReceiveMsg;
use tavdun_market_api::{ExecuteMsg, InstantiateMsg, JobRequest, MigrateMsg, QueryMsg, ReceiveMsg};

use crate::error::ContractError;
use crate::state::CONFIG;
use crate::{admin, disputes, graph_disputes, jobs, models, queries, workers};

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    admin::instantiate(deps, info, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    match msg {
        ExecuteMsg::Receive(wrapper) => receive(deps, env, info, wrapper),
        ExecuteMsg::RegisterModel {
            spec,
            weights_root,
            weights_uri,
            min_tier,
            min_fee,
        } => models::register_model(
            deps,
            info,
            spec,
            weights_root,
            weights_uri,
            min_tier,
            min_fee,
        ),
        ExecuteMsg::RegisterGraphModel {
            spec,
            weights_root,
            weights_uri,
            min_tier,
            min_fee,
        } => models::register_graph_model(
            deps,
            info,
            spec,
            weights_root,
            weights_uri,
            min_tier,
            min_fee,
        ),
        ExecuteMsg::TransferModel { model_id, owner } => {
            models::transfer_model(deps, info, model_id, owner)
        }
        ExecuteMsg::UpdateModel {
            model_id,
            active,
            min_fee,
            min_tier,
            weights_uri,
        } => models::update_model(deps, info, model_id, active, min_fee, min_tier, weights_uri),
        ExecuteMsg::DeclareHardware { hardware } => workers::declare_hardware(deps, info, hardware),
        ExecuteMsg::Unbond { amount } => workers::unbond(deps, env, info, amount),
        ExecuteMsg::ClaimJobs { model_id, max } => jobs::claim_jobs(deps, env, info, model_id, max),
        ExecuteMsg::PostResults { results } => jobs::post_results(deps, env, info, results),
        ExecuteMsg::PostGraphResults { results } => jobs::post_results(deps, env, info, results),
        ExecuteMsg::ReleaseJobs { job_ids } => jobs::release_jobs(deps, env, info, job_ids),
        ExecuteMsg::Finalize { job_ids } => jobs::finalize(deps, env, job_ids),
        ExecuteMsg::ExpireClaims { job_ids } => jobs::expire_claims(deps, env, job_ids),
        ExecuteMsg::CancelJobs { job_ids } => jobs::cancel_jobs(deps, info, job_ids),
        ExecuteMsg::RefundExpired { job_ids } => jobs::refund_expired(deps, env, job_ids),
        ExecuteMsg::Challenge {
            job_id,
            seq,
            hashes,
            salt,
        } => disputes::challenge(deps, env, info, job_id, seq, hashes, salt),
        ExecuteMsg::Reveal {
            job_id,
            seq,
            hashes,
            activation,
        } => disputes::reveal(deps, env, info, job_id, seq, hashes, activation),
        ExecuteMsg::Resolve {
            job_id,
            seq,
            unit,
            input,
            leaf,
            proof,
        } => disputes::resolve(deps, env, job_id, seq, unit, input, leaf, proof),
        ExecuteMsg::ChallengeNode {
            job_id,
            seq,
            node,
            runs,
            salt,
        } => graph_disputes::challenge_node(deps, env, info, job_id, seq, node, runs, salt),
        ExecuteMsg::RevealRow {
            job_id,
            seq,
            node_roots,
            run,
            challenger_run,
            challenger_proof,
        } => graph_disputes::reveal_row(
            deps,
            env,
            info,
            job_id,
            seq,
            node_roots,
            run,
            challenger_run.zip(challenger_proof),
        ),
        ExecuteMsg::ResolveElement {
            job_id,
            seq,
            row,
            revealed,
            row_proof,
            col,
            witness,
        } => graph_disputes::resolve_element(
            deps, env, job_id, seq, row, revealed, row_proof, col, witness,
        ),
        ExecuteMsg::ClaimTimeout { job_id, seq } => disputes::claim_timeout(deps, env, job_id, seq),
        ExecuteMsg::Withdraw { amount } => workers::withdraw(deps, env, info, amount),
        ExecuteMsg::WithdrawTreasury { amount } => admin::withdraw_treasury(deps, info, amount),
        ExecuteMsg::UpdateConfig { params, treasury } => {
            admin::update_config(deps, env, info, params, treasury)
        }
        ExecuteMsg::ApplyConfig {} => admin::apply_config(deps, env),
        ExecuteMsg::SweepUnaccounted {} => admin::sweep_unaccounted(deps, env, info),
        ExecuteMsg::Pause {} => admin::set_paused(deps, info, true),
        ExecuteMsg::Unpause {} => admin::set_paused(deps, info, false),
        ExecuteMsg::ProposeAdmin { admin } => admin::propose_admin(deps, info, admin),
        ExecuteMsg::AcceptAdmin {} => admin::accept_admin(deps, info),
    }
}

/// TRN sent with CW20 `Send`: `info.sender` is the token contract, `wrapper.sender` the payer.
fn receive(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    wrapper: Cw20ReceiveMsg,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    if info.sender != config.token {
        return Err(ContractError::WrongToken {
            expected: config.token.to_string(),
            found: info.sender.to_string(),
        });
    }
    let payer = deps.api.addr_validate(&wrapper.sender)?;
    let amount = wrapper.amount;
    match from_json(&wrapper.msg)? {
        ReceiveMsg::Bond { hardware } => workers::bond(deps, payer, amount, hardware),
        ReceiveMsg::SubmitJob {
            model_id,
            input,
            deadline,
        } => {
            let request = JobRequest {
                model_id,
                input,
                fee: amount,
                deadline,
            };
            jobs::submit(deps, env, payer, amount, vec![request])
        }
        ReceiveMsg::SubmitJobs { jobs: requests } => {
            jobs::submit(deps, env, payer, amount, requests)
        }
        ReceiveMsg::CommitChallenge { job_id, commitment } => {
            disputes::commit_challenge(deps, env, payer, amount, job_id, commitment)
        }
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    Ok(match msg {
        QueryMsg::Config {} => to_json_binary(&queries::config(deps)?),
        QueryMsg::Model { model_id } => to_json_binary(&queries::model(deps, model_id)?),
        QueryMsg::Models { start_after, limit } => {
            to_json_binary(&queries::models(deps, start_after, limit)?)
        }
        QueryMsg::GraphModel { model_id } => to_json_binary(&queries::graph_model(deps, model_id)?),
        QueryMsg::GraphModels { start_after, limit } => {
            to_json_binary(&queries::graph_models(deps, start_after, limit)?)
        }
        QueryMsg::Job { job_id } => to_json_binary(&queries::job(deps, job_id)?),
        QueryMsg::Jobs {
            filter,
            start_after,
            limit,
        } => to_json_binary(&queries::jobs_list(deps, filter, start_after, limit)?),
        QueryMsg::Queue {
            model_id,
            start_after,
            limit,
        } => to_json_binary(&queries::queue(deps, model_id, start_after, limit)?),
        QueryMsg::Worker { address } => to_json_binary(&queries::worker(deps, address)?),
        QueryMsg::Workers { start_after, limit } => {
            to_json_binary(&queries::workers(deps, start_after, limit)?)
        }
        QueryMsg::Dispute { job_id, seq } => to_json_binary(&queries::dispute(deps, job_id, seq)?),
        QueryMsg::Disputes { job_id } => to_json_binary(&queries::disputes(deps, job_id)?),
        QueryMsg::Claimable { address } => to_json_binary(&queries::claimable(deps, address)?),
        QueryMsg::Stats {} => to_json_binary(&queries::stats(deps)?),
        QueryMsg::JobDiagnostic { job_id } => {
            to_json_binary(&queries::diagnose(deps, env, job_id)?)
        }
    }?)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, msg: MigrateMsg) -> Result<Response, ContractError> {
    admin::migrate(deps, msg)
}
