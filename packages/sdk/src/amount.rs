//! TRN amounts: written by people as `12.5`, held on chain as micro-TRN (the token's
//! decimals are defined once, in `tavdun_market_api::token`).

use tavdun_market_api::token::DECIMALS;

use crate::error::{Result, SdkError};

/// `"12.5"` -> 12_500_000 micro-TRN. At most 6 decimals; no sign, no exponent.
pub fn parse_trn(s: &str) -> Result<u128> {
    let bad = || SdkError::Amount(format!("`{s}` is not a TRN amount such as 12.5"));
    let decimals = u32::from(DECIMALS);
    let (int, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > decimals as usize {
        return Err(bad());
    }
    let whole: u128 = int.parse().map_err(|_| bad())?;
    let frac_val: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>().map_err(|_| bad())? * 10u128.pow(decimals - frac.len() as u32)
    };
    whole
        .checked_mul(10u128.pow(decimals))
        .and_then(|w| w.checked_add(frac_val))
        .ok_or_else(bad)
}

/// 12_500_000 -> `"12.5"`.
pub fn format_trn(micro: u128) -> String {
    let scale = 10u128.pow(u32::from(DECIMALS));
    let (whole, frac) = (micro / scale, micro % scale);
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = usize::from(DECIMALS));
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Micro-TRN as a number of TRN, for metrics and displays only (never for accounting).
pub fn trn_f64(micro: u128) -> f64 {
    micro as f64 / 10f64.powi(i32::from(DECIMALS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trn_amounts_round_trip() {
        assert_eq!(parse_trn("12.5").unwrap(), 12_500_000);
        assert_eq!(parse_trn("0.000001").unwrap(), 1);
        assert_eq!(parse_trn("7").unwrap(), 7_000_000);
        assert_eq!(format_trn(12_500_000), "12.5");
        assert_eq!(format_trn(1), "0.000001");
        assert_eq!(trn_f64(2_500_000), 2.5);
        for bad in ["", "-1", "1.0000001", "1e3", "x", "."] {
            assert!(parse_trn(bad).is_err(), "{bad}");
        }
    }
}
