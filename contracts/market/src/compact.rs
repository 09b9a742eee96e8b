//! Maps and items whose values are stored in postcard's binary encoding instead of JSON.
//!
//! Every byte a transaction writes costs 30 gas on wasmd (the SDK's `WriteCostPerByte`), and
//! the records each job transition rewrites were mostly field names, quotes, base64 and
//! decimal digits in JSON. Keys are built by cw-storage-plus exactly as for a [`Map`], so the
//! layout of keys, their order and their bounds are unchanged; only values differ. Types
//! stored here must serialise every field (no `skip_serializing_if`): postcard is not
//! self-describing, so a skipped field would shift every field after it.

use std::marker::PhantomData;

use cosmwasm_std::storage_keys::to_length_prefixed;
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
    value: PhantomData<T>,
}

impl<K, T> BinMap<K, T> {
    pub const fn new(namespace: &'static str) -> Self {
        BinMap {
            keys: Map::new(namespace),
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
        let prefix = to_length_prefixed(self.keys.namespace_bytes());
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

#[cfg(test)]
mod tests {
    use cosmwasm_std::testing::MockStorage;
    use cosmwasm_std::{Addr, Uint128};

    use super::*;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Record {
        who: Addr,
        fee: Uint128,
        at: Option<u64>,
        bytes: Vec<u8>,
    }

    fn record(n: u8) -> Record {
        Record {
            who: Addr::unchecked(format!("addr{n}")),
            fee: Uint128::new(u128::from(n) * 1_000_000),
            at: n.is_multiple_of(2).then_some(u64::from(n)),
            bytes: vec![n; usize::from(n)],
        }
    }

    #[test]
    fn values_round_trip_in_fewer_bytes_than_json() {
        let map: BinMap<u64, Record> = BinMap::new("r");
        let mut store = MockStorage::new();
        assert_eq!(map.may_load(&store, 7).unwrap(), None);
        assert!(map.load(&store, 7).is_err());
        map.save(&mut store, 7, &record(7)).unwrap();
        assert_eq!(map.load(&store, 7).unwrap(), record(7));
        // The key is the one cw-storage-plus gives a JSON map of the same namespace.
        let json: Map<u64, Record> = Map::new("r");
        let stored = store.get(&json.key(7)).unwrap();
        assert!(stored.len() < cosmwasm_std::to_json_vec(&record(7)).unwrap().len() / 2);
        // Bytes that are not a record are a parse error, not a panic.
        store.set(&json.key(8), b"\xff");
        assert!(map.may_load(&store, 8).is_err());
    }

    #[test]
    fn range_follows_the_keys_and_their_bounds() {
        let map: BinMap<u64, Record> = BinMap::new("r");
        let other: BinMap<u64, Record> = BinMap::new("s");
        let mut store = MockStorage::new();
        for n in [3u8, 1, 9, 5] {
            map.save(&mut store, u64::from(n), &record(n)).unwrap();
        }
        other.save(&mut store, 4, &record(4)).unwrap();
        let ids = |min: Option<Bound<u64>>, order| -> Vec<u64> {
            map.range(&store, min, None, order)
                .map(|r| {
                    let (id, rec) = r.unwrap();
                    assert_eq!(rec, record(id as u8));
                    id
                })
                .collect()
        };
        assert_eq!(ids(None, Order::Ascending), [1, 3, 5, 9]);
        assert_eq!(ids(Some(Bound::exclusive(3u64)), Order::Ascending), [5, 9]);
        assert_eq!(ids(None, Order::Descending), [9, 5, 3, 1]);

        let by_addr: BinMap<&Addr, Record> = BinMap::new("w");
        let (a, b) = (Addr::unchecked("a1"), Addr::unchecked("b2"));
        by_addr.save(&mut store, &b, &record(2)).unwrap();
        by_addr.save(&mut store, &a, &record(1)).unwrap();
        let listed: Vec<(Addr, Record)> = by_addr
            .range(&store, None, None, Order::Ascending)
            .collect::<StdResult<_>>()
            .unwrap();
        assert_eq!(listed, [(a, record(1)), (b, record(2))]);
    }

    #[test]
    fn items_round_trip() {
        let item: BinItem<Record> = BinItem::new("i");
        let mut store = MockStorage::new();
        assert_eq!(item.may_load(&store).unwrap(), None);
        assert!(item.load(&store).is_err());
        item.save(&mut store, &record(4)).unwrap();
        assert_eq!(item.load(&store).unwrap(), record(4));
    }
}
