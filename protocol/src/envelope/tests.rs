//! Round trips, tampering, limits and nonce rules of the envelope.

use super::*;
use proptest::prelude::*;

fn k(b: u8) -> ShardKey {
    ShardKey([b; 32])
}

fn text(n: usize) -> Vec<u8> {
    b"the quick brown fox jumps over the lazy dog. "
        .iter()
        .cycle()
        .take(n)
        .copied()
        .collect()
}

#[test]
fn round_trip_both_ciphers_and_compression() {
    let random: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
        for data in [text(200_000), random.clone(), vec![], b"x".to_vec()] {
            let s = seal(&data, &k(7), cipher, NonceMode::Convergent).unwrap();
            assert!(s.id().matches(s.bytes()));
            assert_eq!(open(s.bytes(), &k(7)).unwrap(), data);
        }
    }
    let s = seal(
        &text(200_000),
        &k(7),
        Cipher::Aes256Gcm,
        NonceMode::Convergent,
    )
    .unwrap();
    assert_eq!(
        Header::decode(s.bytes()).unwrap().compression,
        Compression::Zstd
    );
    assert!(s.bytes().len() < 20_000);
}

#[test]
fn convergent_is_deterministic_random_is_not() {
    let d = text(5000);
    let a = seal(&d, &k(1), Cipher::Aes256Gcm, NonceMode::Convergent).unwrap();
    let b = seal(&d, &k(1), Cipher::Aes256Gcm, NonceMode::Convergent).unwrap();
    assert_eq!(a.id(), b.id());
    let c = seal(&d, &k(1), Cipher::Aes256Gcm, NonceMode::Random([9; 12])).unwrap();
    assert_ne!(a.id(), c.id());
    let e = seal(&d, &k(1), Cipher::ChaCha20Poly1305, NonceMode::Convergent).unwrap();
    assert_ne!(a.id(), e.id());
}

#[test]
fn wrong_key_and_tamper_fail() {
    let s = seal(&text(1000), &k(1), Cipher::Aes256Gcm, NonceMode::Convergent).unwrap();
    assert_eq!(open(s.bytes(), &k(2)), Err(EnvelopeError::Decrypt));
    for i in [0usize, 5, 9, 20, HEADER_LEN + 3, s.bytes().len() - 1] {
        let mut bad = s.bytes().to_vec();
        bad[i] ^= 0x40;
        assert!(open(&bad, &k(1)).is_err(), "flip at {i} accepted");
    }
}

#[test]
fn oversized_declarations_refused() {
    let s = seal(b"abc", &k(1), Cipher::Aes256Gcm, NonceMode::Convergent).unwrap();
    let mut bad = s.bytes().to_vec();
    bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Header::decode(&bad),
        Err(EnvelopeError::TooLarge { .. })
    ));
    assert!(seal(
        &vec![0; MAX_PLAINTEXT_LEN + 1],
        &k(1),
        Cipher::Aes256Gcm,
        NonceMode::Convergent
    )
    .is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..5000), key in any::<u8>(), chacha in any::<bool>()) {
        let cipher = if chacha { Cipher::ChaCha20Poly1305 } else { Cipher::Aes256Gcm };
        let s = seal(&data, &k(key), cipher, NonceMode::Convergent).unwrap();
        prop_assert_eq!(open(s.bytes(), &k(key)).unwrap(), data.clone());
        let owned = open_owned(s.bytes().to_vec(), &k(key)).unwrap();
        prop_assert_eq!(&*owned, &data[..]);
        prop_assert_eq!(owned.into_vec(), data);
    }

    #[test]
    fn owned_open_refuses_what_open_refuses(data in proptest::collection::vec(any::<u8>(), 0..3000), flip in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let s = seal(&data, &k(5), Cipher::Aes256Gcm, NonceMode::Convergent).unwrap();
        let mut bad = s.bytes().to_vec();
        let at = flip.index(bad.len());
        bad[at] ^= 0x01;
        prop_assert!(open_owned(bad, &k(5)).is_err());
        let short = s.bytes()[..cut.index(s.bytes().len())].to_vec();
        prop_assert!(open_owned(short, &k(5)).is_err());
        prop_assert!(open_owned(s.bytes().to_vec(), &k(6)).is_err());
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = open(&data, &k(1));
    }

    #[test]
    fn truncation_is_an_error(data in proptest::collection::vec(any::<u8>(), 1..3000), cut in any::<prop::sample::Index>()) {
        let s = seal(&data, &k(3), Cipher::Aes256Gcm, NonceMode::Convergent).unwrap();
        let at = cut.index(s.bytes().len());
        prop_assert!(open(&s.bytes()[..at], &k(3)).is_err());
    }

    #[test]
    fn header_fuzz_on_valid_prefix(data in proptest::collection::vec(any::<u8>(), 0..64), pos in 0usize..HEADER_LEN, val in any::<u8>()) {
        let s = seal(&data, &k(3), Cipher::Aes256Gcm, NonceMode::Convergent).unwrap();
        let mut bad = s.bytes().to_vec();
        bad[pos] = val;
        let r = open(&bad, &k(3));
        if bad != s.bytes() { prop_assert!(r.is_err()); }
    }
}

proptest! {
    /// Sealing in place gives the very bytes `seal` gives, for raw and
    /// compressed bodies, with or without spare capacity for the tag.
    #[test]
    fn sealing_in_place_equals_sealing(len in 0usize..200_000, text_like: bool, spare: bool) {
        let plain: Vec<u8> = if text_like {
            text(len)
        } else {
            let mut v = vec![0u8; len];
            blake3::Hasher::new_keyed(&[9; 32]).finalize_xof().fill(&mut v);
            v
        };
        let mut buf = Vec::with_capacity(HEADROOM + len + if spare { TAG_LEN } else { 0 });
        buf.resize(HEADROOM, 0xaa);
        buf.extend_from_slice(&plain);
        for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
            let a = seal(&plain, &k(4), cipher, NonceMode::Convergent).unwrap();
            let b = seal_in_place(buf.clone(), &k(4), cipher, NonceMode::Convergent).unwrap();
            prop_assert_eq!(a.bytes(), b.bytes());
            prop_assert_eq!(a.id(), b.id());
            prop_assert_eq!(open(b.bytes(), &k(4)).unwrap(), plain.clone());
        }
    }
}

#[test]
fn sealing_in_place_refuses_a_buffer_without_room() {
    let r = seal_in_place(
        vec![0; HEADROOM - 1],
        &k(1),
        Cipher::Aes256Gcm,
        NonceMode::Convergent,
    );
    assert!(matches!(r, Err(EnvelopeError::TooShort(_))));
}
