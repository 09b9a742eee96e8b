//! A transaction as the chain reports it once included: code, gas, events, and the data
//! each of its messages returned.

use cosmos_sdk_proto::cosmos::base::abci::v1beta1::{TxMsgData, TxResponse};
use cosmos_sdk_proto::cosmwasm::wasm::v1::MsgExecuteContractResponse;
use cosmos_sdk_proto::prost::Message;

/// A transaction included in a block.
#[derive(Debug, Clone)]
pub struct TxResult {
    pub txhash: String,
    pub height: i64,
    pub code: u32,
    pub codespace: String,
    pub raw_log: String,
    pub gas_wanted: i64,
    pub gas_used: i64,
    pub events: Vec<Event>,
    /// What each message of the transaction returned, in order (for a contract execution,
    /// the data the contract set).
    pub msg_data: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: String,
    pub attributes: Vec<(String, String)>,
}

impl From<TxResponse> for TxResult {
    fn from(r: TxResponse) -> TxResult {
        TxResult {
            msg_data: msg_data(&r.data),
            txhash: r.txhash,
            height: r.height,
            code: r.code,
            codespace: r.codespace,
            raw_log: r.raw_log,
            gas_wanted: r.gas_wanted,
            gas_used: r.gas_used,
            events: r
                .events
                .into_iter()
                .map(|e| Event {
                    kind: e.r#type,
                    attributes: e.attributes.into_iter().map(|a| (a.key, a.value)).collect(),
                })
                .collect(),
        }
    }
}

impl TxResult {
    /// The first value of `attribute` in an event of type `kind`.
    pub fn attribute(&self, kind: &str, attribute: &str) -> Option<&str> {
        self.events
            .iter()
            .filter(|e| e.kind == kind)
            .flat_map(|e| e.attributes.iter())
            .find(|(k, _)| k == attribute)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `attribute` in `wasm` events, in order (what a contract emitted).
    pub fn wasm_attributes<'a>(&'a self, attribute: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.events
            .iter()
            .filter(|e| e.kind == "wasm")
            .flat_map(|e| e.attributes.iter())
            .filter(move |(k, _)| k == attribute)
            .map(|(_, v)| v.as_str())
    }
}

/// The per-message data of a transaction: `TxResponse.data` is the hex of a `TxMsgData`
/// whose responses are `Any`s; a contract execution's response carries the contract's data.
/// Data that does not decode is left out rather than guessed at.
fn msg_data(hex_data: &str) -> Vec<Vec<u8>> {
    let Ok(raw) = hex::decode(hex_data) else {
        return Vec::new();
    };
    let Ok(tx_data) = TxMsgData::decode(raw.as_slice()) else {
        return Vec::new();
    };
    tx_data
        .msg_responses
        .iter()
        .map(|any| {
            MsgExecuteContractResponse::decode(any.value.as_slice())
                .map(|r| r.data)
                .unwrap_or_default()
        })
        .collect()
}
