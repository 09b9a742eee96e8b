//! Int8 tensors travel as bytes (JSON `Binary`, files, hashes): the one place where an `i8`
//! becomes a `u8` and back, two's complement, bit for bit.

use alloc::vec::Vec;

/// The bytes of int8 values.
pub fn from_i8(values: &[i8]) -> Vec<u8> {
    values.iter().map(|&v| v as u8).collect()
}

/// Int8 values from their bytes.
pub fn to_i8(bytes: &[u8]) -> Vec<i8> {
    bytes.iter().map(|&b| b as i8).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_is_twos_complement() {
        let values = [-128i8, -1, 0, 1, 127];
        let bytes = super::from_i8(&values);
        assert_eq!(bytes, [0x80, 0xff, 0x00, 0x01, 0x7f]);
        assert_eq!(super::to_i8(&bytes), values);
    }
}
