//! API keys and their quotas. Keys are kept as sha256 digests and every presented key is
//! compared with all of them in constant time, so neither the time of an answer nor the
//! config's order tells an attacker how much of a key was right.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use tavdun_sdk::amount::{format_trn, parse_trn};

use crate::config::{ApiKeyConfig, ConfigError};
use crate::error::ApiError;

pub struct Keys {
    keys: Vec<Key>,
}

struct Key {
    name: String,
    digest: [u8; 32],
    quota: Quota,
    /// Jobs charged to this key within the last window, oldest first.
    spent: Mutex<VecDeque<Charge>>,
    next_id: AtomicU64,
}

struct Quota {
    jobs_per_window: u32,
    window: Duration,
    max_fee: Option<u128>,
    max_spend_per_window: Option<u128>,
}

struct Charge {
    id: u64,
    at: Instant,
    fee: u128,
}

/// The key a request was authenticated with (its index in [`Keys`]); the extractor that
/// authenticates a request lives in `extract`.
#[derive(Debug, Clone, Copy)]
pub struct Caller(usize);

/// A job counted against a key's quota until the job is submitted ([`Reservation::commit`]);
/// dropped uncommitted, it gives the quota back.
pub struct Reservation<'a> {
    key: &'a Key,
    id: u64,
    committed: bool,
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl Keys {
    pub fn new(config: &[ApiKeyConfig]) -> Result<Keys, ConfigError> {
        let amount = |i: usize, name: &str, v: &Option<String>| {
            v.as_deref()
                .map(parse_trn)
                .transpose()
                .map_err(|e| ConfigError::Field {
                    field: format!("api_keys[{i}].{name}"),
                    reason: e.to_string(),
                })
        };
        let keys = config
            .iter()
            .enumerate()
            .map(|(i, k)| {
                Ok(Key {
                    name: k.name.clone(),
                    digest: digest(&k.key),
                    quota: Quota {
                        jobs_per_window: k.jobs_per_window,
                        window: Duration::from_secs(k.window_secs),
                        max_fee: amount(i, "max_fee", &k.max_fee)?,
                        max_spend_per_window: amount(
                            i,
                            "max_spend_per_window",
                            &k.max_spend_per_window,
                        )?,
                    },
                    spent: Mutex::new(VecDeque::new()),
                    next_id: AtomicU64::new(0),
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Keys { keys })
    }

    /// The key equal to `presented`. Every key is compared, whichever matches.
    pub fn find(&self, presented: &str) -> Option<Caller> {
        let presented = digest(presented);
        let mut found = None;
        for (i, key) in self.keys.iter().enumerate() {
            let equal: Choice = key.digest.ct_eq(&presented);
            if bool::from(equal) {
                found = Some(Caller(i));
            }
        }
        found
    }

    pub fn name(&self, caller: Caller) -> &str {
        &self.keys[caller.0].name
    }

    /// Counts a job of `fee` against the caller's quota, or says why it cannot.
    pub fn reserve(&self, caller: Caller, fee: u128) -> Result<Reservation<'_>, ApiError> {
        let key = &self.keys[caller.0];
        let quota = &key.quota;
        if let Some(max) = quota.max_fee.filter(|max| fee > *max) {
            return Err(ApiError::FeeAboveLimit(format!(
                "a fee of {} TRN is above this API key's limit of {} TRN per job",
                format_trn(fee),
                format_trn(max)
            )));
        }
        let now = Instant::now();
        let mut spent = key.spent.lock().unwrap_or_else(|e| e.into_inner());
        while spent
            .front()
            .is_some_and(|c| now.duration_since(c.at) >= quota.window)
        {
            spent.pop_front();
        }
        // Seconds until the oldest charge leaves the window, rounded up.
        let retry_after_secs = spent.front().map_or(1, |c| {
            (quota
                .window
                .saturating_sub(now.duration_since(c.at))
                .as_millis() as u64)
                .div_ceil(1000)
        });
        let window = quota.window.as_secs();
        if spent.len() >= quota.jobs_per_window as usize {
            return Err(ApiError::QuotaExceeded {
                message: format!(
                    "this API key may submit {} jobs per {window} s; try again in {retry_after_secs} s",
                    quota.jobs_per_window
                ),
                retry_after_secs,
            });
        }
        if let Some(budget) = quota.max_spend_per_window {
            let total: u128 = spent.iter().map(|c| c.fee).sum();
            if total.saturating_add(fee) > budget {
                return Err(ApiError::QuotaExceeded {
                    message: format!(
                        "this API key may spend {} TRN per {window} s and has spent {} TRN; \
                         try again in {retry_after_secs} s",
                        format_trn(budget),
                        format_trn(total)
                    ),
                    retry_after_secs,
                });
            }
        }
        let id = key.next_id.fetch_add(1, Ordering::Relaxed);
        spent.push_back(Charge { id, at: now, fee });
        Ok(Reservation {
            key,
            id,
            committed: false,
        })
    }
}

impl Reservation<'_> {
    pub fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let mut spent = self.key.spent.lock().unwrap_or_else(|e| e.into_inner());
            spent.retain(|c| c.id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(jobs_per_window: u32, max_fee: Option<&str>, spend: Option<&str>) -> Keys {
        Keys::new(&[ApiKeyConfig {
            name: "test".into(),
            key: "0123456789abcdef".into(),
            jobs_per_window,
            window_secs: 60,
            max_fee: max_fee.map(Into::into),
            max_spend_per_window: spend.map(Into::into),
        }])
        .unwrap()
    }

    #[test]
    fn only_the_exact_key_is_found() {
        let keys = keys(1, None, None);
        assert!(keys.find("0123456789abcdef").is_some());
        for wrong in [
            "0123456789abcdeF",
            "0123456789abcde",
            "",
            "0123456789abcdef0",
        ] {
            assert!(keys.find(wrong).is_none(), "{wrong}");
        }
    }

    #[test]
    fn jobs_per_window_is_enforced_and_failed_submissions_give_the_quota_back() {
        let keys = keys(2, None, None);
        let caller = keys.find("0123456789abcdef").unwrap();
        keys.reserve(caller, 1).unwrap().commit();
        // Dropped without commit: the chain refused the job, the quota is not spent.
        drop(keys.reserve(caller, 1).unwrap());
        keys.reserve(caller, 1).unwrap().commit();
        match keys.reserve(caller, 1) {
            Err(ApiError::QuotaExceeded {
                retry_after_secs, ..
            }) => assert!((1..=60).contains(&retry_after_secs)),
            Err(e) => panic!("expected quota_exceeded, got {e}"),
            Ok(_) => panic!("expected quota_exceeded, got a reservation"),
        };
    }

    #[test]
    fn fee_limit_and_spend_budget_are_enforced() {
        let keys = keys(10, Some("1"), Some("1.5"));
        let caller = keys.find("0123456789abcdef").unwrap();
        assert!(matches!(
            keys.reserve(caller, 1_000_001),
            Err(ApiError::FeeAboveLimit(_))
        ));
        keys.reserve(caller, 1_000_000).unwrap().commit();
        assert!(matches!(
            keys.reserve(caller, 600_000),
            Err(ApiError::QuotaExceeded { .. })
        ));
        keys.reserve(caller, 500_000).unwrap().commit();
    }
}
