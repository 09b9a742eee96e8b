//! Maps and items whose values are stored in postcard's binary encoding instead of JSON.
//!
//! Every byte a transaction writes costs 30 gas on wasmd (the SDK's `WriteCostPerByte`), and
//! the records each job transition rewrites were mostly field names, quotes, base64 and
//! decimal digits in JSON. Keys are built by cw-storage-plus exactly as for a [`Map`], so the
//! layout of keys, their order and their bounds are unchanged; only values differ. Types
//! stored here must serialise every field (no `skip_serializing_if`): postcard is not
//! self-describing, so a skipped field would shift every field after it.

use std::marker::PhantomData;

use cosmwasm_std::{Order, StdError, StdResult, Storage};
use cw_storage_plus::{Bound, Item, KeyDeserialize, Map, PrimaryKey};
use serde::{de::DeserializeOwned, Serialize};

fn encode<T: Serialize>(value: &T) -> StdResult<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|e| StdError::serialize_err(std::any::type_name::<T>(), e))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StdResult<T> {
    postcard::from_bytes(bytes).map_err(|e| StdError::parse_err(std::any::type_name::<T>(), e))
}

fn not_found<T>() -> StdError {
    StdError::not_found(std::any::type_name::<T>())
}

/// A map from `K` to `T`, `T` stored in postcard.
pub struct BinMap<K, T> {
    /// Builds the keys (its own values are never read or written).
    keys: Map<K, ()>,
    namespace: &'static str,
    value: PhantomData<T>,
}

impl<K, T> BinMap<K, T> {
    pub const fn new(namespace: &'static str) -> Self {
        BinMap {
            keys: Map::new(namespace),
            namespace,
            value: PhantomData,
        }
    }
}

impl<'a, K, T> BinMap<K, T>
where
    K: PrimaryKey<'a> + KeyDeserialize,
    K::Output: 'static,
    T: Serialize + DeserializeOwned,
{
    pub fn save(&self, store: &mut dyn Storage, k: K, value: &T) -> StdResult<()> {
        store.set(&self.keys.key(k), &encode(value)?);
        Ok(())
    }

    pub fn may_load(&self, store: &dyn Storage, k: K) -> StdResult<Option<T>> {
        store.get(&self.keys.key(k)).map(|b| decode(&b)).transpose()
    }

    pub fn load(&self, store: &dyn Storage, k: K) -> StdResult<T> {
        self.may_load(store, k)?.ok_or_else(not_found::<T>)
    }

    /// The entries between the bounds, in key order. For queries: each entry is read twice
    /// (the key range, then the value), which costs nothing there.
    pub fn range<'c>(
        &self,
        store: &'c dyn Storage,
        min: Option<Bound<'a, K>>,
        max: Option<Bound<'a, K>>,
        order: Order,
    ) -> impl Iterator<Item = StdResult<(K::Output, T)>> + 'c
    where
        T: 'c,
    {
        // `keys_raw` yields keys without the map's prefix: the length-prefixed namespace.
        let mut prefix = (self.namespace.len() as u16).to_be_bytes().to_vec();
        prefix.extend_from_slice(self.namespace.as_bytes());
        self.keys.keys_raw(store, min, max, order).map(move |raw| {
            let value = store
                .get(&[prefix.as_slice(), &raw].concat())
                .ok_or_else(not_found::<T>)?;
            Ok((K::from_vec(raw)?, decode(&value)?))
        })
    }
}

/// A single value stored in postcard.
pub struct BinItem<T> {
    key: Item<()>,
    value: PhantomData<T>,
}

impl<T: Serialize + DeserializeOwned> BinItem<T> {
    pub const fn new(key: &'static str) -> Self {
        BinItem {
            key: Item::new(key),
            value: PhantomData,
        }
    }

    pub fn save(&self, store: &mut dyn Storage, value: &T) -> StdResult<()> {
        store.set(self.key.as_slice(), &encode(value)?);
        Ok(())
    }

    pub fn may_load(&self, store: &dyn Storage) -> StdResult<Option<T>> {
        store
            .get(self.key.as_slice())
            .map(|b| decode(&b))
            .transpose()
    }

    pub fn load(&self, store: &dyn Storage) -> StdResult<T> {
        self.may_load(store)?.ok_or_else(not_found::<T>)
    }
}
