//! The market's storage. The value types live in `tavdun_market_api`; only the maps, items
//! and indexes that hold them are defined here.

use cosmwasm_std::{Addr, Uint128};
use cw_storage_plus::{Index, IndexList, IndexedMap, Item, Map, MultiIndex};
use tavdun_market_api::{Config, Dispute, Job, ModelInfo, Totals, Worker};

pub const CONFIG: Item<Config> = Item::new("config");
pub const PENDING_ADMIN: Item<Addr> = Item::new("pending_admin");
pub const TOTALS: Item<Totals> = Item::new("totals");
pub const NEXT_JOB_ID: Item<u64> = Item::new("next_job_id");
pub const MODEL_COUNT: Item<u64> = Item::new("model_count");
/// Workers able to claim, per tier (index 0 is tier 1).
pub const TIER_COUNTS: Item<Vec<u32>> = Item::new("tier_counts");

pub const MODELS: Map<&str, ModelInfo> = Map::new("models");
pub const WORKERS: Map<&Addr, Worker> = Map::new("workers");
pub const CLAIMABLE: Map<&Addr, Uint128> = Map::new("claimable");
pub const DISPUTES: Map<u64, Dispute> = Map::new("disputes");
/// Open jobs: (model, u128::MAX - fee, job id), so an ascending range is highest fee first,
/// then oldest.
pub const QUEUE: Map<(&str, u128, u64), ()> = Map::new("queue");

pub struct JobIndexes<'a> {
    pub status: MultiIndex<'a, String, Job, u64>,
    pub model: MultiIndex<'a, String, Job, u64>,
    pub client: MultiIndex<'a, Addr, Job, u64>,
    pub worker: MultiIndex<'a, Addr, Job, u64>,
}

impl IndexList<Job> for JobIndexes<'_> {
    fn get_indexes(&'_ self) -> Box<dyn Iterator<Item = &'_ dyn Index<Job>> + '_> {
        let v: Vec<&dyn Index<Job>> = vec![&self.status, &self.model, &self.client, &self.worker];
        Box::new(v.into_iter())
    }
}

pub fn jobs<'a>() -> IndexedMap<u64, Job, JobIndexes<'a>> {
    let indexes = JobIndexes {
        status: MultiIndex::new(
            |_, j: &Job| j.status.key().to_string(),
            "jobs",
            "jobs__status",
        ),
        model: MultiIndex::new(|_, j: &Job| j.model_id.clone(), "jobs", "jobs__model"),
        client: MultiIndex::new(|_, j: &Job| j.client.clone(), "jobs", "jobs__client"),
        // Jobs never claimed index under the empty address, which no query asks for.
        worker: MultiIndex::new(
            |_, j: &Job| j.worker.clone().unwrap_or_else(|| Addr::unchecked("")),
            "jobs",
            "jobs__worker",
        ),
    };
    IndexedMap::new("jobs", indexes)
}

pub fn queue_key(fee: Uint128) -> u128 {
    u128::MAX - fee.u128()
}
