//! ECDSA signature encodings: DER (what KMS and OpenSSL produce) and raw `r‖s` (what JOSE and
//! many blockchains want), and low-S normalisation for secp256k1.

use der::asn1::UintRef;
use der::{Decode, Encode};

use crate::key::Curve;
use crate::{Error, Result};

#[derive(der::Sequence)]
struct EcdsaSigDer<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// The order `n` of the secp256k1 group, big-endian.
const SECP256K1_ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
];

/// `n / 2` for secp256k1, big-endian: an `s` above this is "high".
const SECP256K1_HALF_ORDER: [u8; 32] = [
    0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0,
];

fn left_pad(bytes: &[u8], len: usize, what: &str) -> Result<Vec<u8>> {
    if bytes.len() > len {
        return Err(Error::invalid_input(format!(
            "ECDSA {what} is {} bytes, longer than the curve's {len}",
            bytes.len()
        )));
    }
    let mut out = vec![0u8; len - bytes.len()];
    out.extend_from_slice(bytes);
    Ok(out)
}

/// Converts a DER `ECDSA-Sig-Value` into fixed-width `r‖s` for `curve`.
pub fn ecdsa_der_to_raw(der: &[u8], curve: Curve) -> Result<Vec<u8>> {
    let sig = EcdsaSigDer::from_der(der)
        .map_err(|e| Error::invalid_input(format!("malformed DER ECDSA signature: {e}")))?;
    let n = curve.field_len();
    let mut out = left_pad(sig.r.as_bytes(), n, "r")?;
    out.extend(left_pad(sig.s.as_bytes(), n, "s")?);
    Ok(out)
}

/// An ECDSA signature for `curve` in the DER form verifiers take, from DER or fixed-width
/// `r‖s` (JOSE, KMS-free tools), told apart by shape: what parses as DER stays as it is, a
/// value of exactly `r‖s`'s length that does not is converted, anything else is returned
/// unchanged (it will simply not verify).
pub fn ecdsa_any_to_der(signature: &[u8], curve: Curve) -> Result<Vec<u8>> {
    let is_der = ecdsa_der_to_raw(signature, curve).is_ok();
    if !is_der && signature.len() == 2 * curve.field_len() {
        ecdsa_raw_to_der(signature, curve)
    } else {
        Ok(signature.to_vec())
    }
}

/// Converts fixed-width `r‖s` for `curve` into a DER `ECDSA-Sig-Value`.
pub fn ecdsa_raw_to_der(raw: &[u8], curve: Curve) -> Result<Vec<u8>> {
    let n = curve.field_len();
    if raw.len() != 2 * n {
        return Err(Error::invalid_input(format!(
            "raw {} ECDSA signature must be {} bytes, not {}",
            curve.jose_name(),
            2 * n,
            raw.len()
        )));
    }
    let (r, s) = raw.split_at(n);
    let sig = EcdsaSigDer {
        r: UintRef::new(r).map_err(|e| Error::invalid_input(e.to_string()))?,
        s: UintRef::new(s).map_err(|e| Error::invalid_input(e.to_string()))?,
    };
    sig.to_der()
        .map_err(|e| Error::invalid_input(format!("cannot encode ECDSA signature: {e}")))
}

/// Returns the low-S form of a DER secp256k1 signature (`s ≤ n/2`, as Bitcoin and Ethereum
/// require). Both forms verify; the low one is canonical. Other curves are returned unchanged.
pub fn normalize_low_s(der: &[u8], curve: Curve) -> Result<Vec<u8>> {
    if curve != Curve::Secp256k1 {
        return Ok(der.to_vec());
    }
    let raw = ecdsa_der_to_raw(der, curve)?;
    let (r, s) = raw.split_at(32);
    if s <= &SECP256K1_HALF_ORDER[..] {
        return Ok(der.to_vec());
    }
    let mut low = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(SECP256K1_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = if d < 0 {
            d += 256;
            1
        } else {
            0
        };
        low[i] = d as u8;
    }
    let mut out = r.to_vec();
    out.extend_from_slice(&low);
    ecdsa_raw_to_der(&out, curve)
}

/// Whether a DER secp256k1 signature is already in low-S form.
pub fn is_low_s(der: &[u8]) -> Result<bool> {
    let raw = ecdsa_der_to_raw(der, Curve::Secp256k1)?;
    Ok(raw[32..] <= SECP256K1_HALF_ORDER[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_raw_round_trip_keeps_leading_zeros() {
        let mut raw = vec![0u8; 64];
        raw[1] = 0x80; // r has a leading zero byte and a high bit after it
        raw[32] = 0xFF; // s needs a 0x00 pad in DER
        raw[63] = 1;
        let der = ecdsa_raw_to_der(&raw, Curve::P256).unwrap();
        assert_eq!(ecdsa_der_to_raw(&der, Curve::P256).unwrap(), raw);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        assert!(ecdsa_raw_to_der(&[1u8; 63], Curve::P256).is_err());
        assert!(ecdsa_der_to_raw(b"\x30\x00", Curve::P256).is_err());
        let big = ecdsa_raw_to_der(&[0x7Fu8; 96], Curve::P384).unwrap();
        assert!(ecdsa_der_to_raw(&big, Curve::P256).is_err());
    }

    #[test]
    fn high_s_becomes_n_minus_s() {
        let mut raw = vec![1u8; 32];
        raw.extend_from_slice(&SECP256K1_ORDER);
        raw[63] -= 1; // s = n - 1, which is high
        let der = ecdsa_raw_to_der(&raw, Curve::Secp256k1).unwrap();
        assert!(!is_low_s(&der).unwrap());
        let low = normalize_low_s(&der, Curve::Secp256k1).unwrap();
        assert!(is_low_s(&low).unwrap());
        let low_raw = ecdsa_der_to_raw(&low, Curve::Secp256k1).unwrap();
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(&low_raw[32..], &one[..]);
        assert_eq!(normalize_low_s(&low, Curve::Secp256k1).unwrap(), low);
    }
}
