//! HMAC-SHA256 (RFC 2104) with the key's inner and outer states prepared once, so the MAC
//! of a message of at most 55 bytes — every key's `{id}_{secret}` — costs exactly two
//! SHA-256 compressions and no buffer management.
//!
//! Why not only the `hmac` crate: with a prebuilt key it spends about as long cloning and
//! padding its buffered state as in the two compressions (figures in
//! `benches/OPTIMISATIONS.md`). This module is the textbook
//! construction over the vetted compression function of RustCrypto's `sha2`
//! (`sha2::block_api::compress256`, with run-time SHA-extension detection). It takes
//! one-block messages only (a key's MAC input is 45 bytes). It is checked against ring's
//! HMAC and the RFC 4231 test vectors in this module's tests, for message lengths across
//! every lane boundary up to 55 bytes and keys shorter and longer than a block.

use sha2::Digest as _;
use sha2::block_api::compress256;
use zeroize::Zeroize;

/// SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];
const BLOCK: usize = 64;
/// Longest message that fits one block with its padding (1 byte `0x80`, 8 bytes length).
const MAX_ONE_BLOCK: usize = BLOCK - 9;
/// The width at which the SHA-extension compression reads its block.
const LANE: usize = 16;
/// The shortest window [`PreparedHmac::mac_window`] takes for a message of `len` bytes:
/// the message and whatever follows it, up to a whole lane.
pub(crate) const fn window_len(len: usize) -> usize {
    len.next_multiple_of(LANE)
}
/// A block as 16-byte lanes (aligned: wiped as four words, written a lane at a time).
type Lanes = [u128; BLOCK / LANE];

/// An HMAC-SHA256 key, prepared. Zeroized on drop.
#[derive(Clone)]
pub(crate) struct PreparedHmac {
    /// SHA-256 state after absorbing `key ⊕ ipad`.
    inner: [u32; 8],
    /// SHA-256 state after absorbing `key ⊕ opad`.
    outer: [u32; 8],
}

impl PreparedHmac {
    /// Prepares `key` (any length; keys longer than a block are hashed first, RFC 2104).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            k[..32].copy_from_slice(&sha2::Sha256::digest(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; BLOCK];
        let mut state = |byte: u8| {
            for (p, kb) in pad.iter_mut().zip(k.iter()) {
                *p = kb ^ byte;
            }
            let mut s = H0;
            compress256(&mut s, &[pad]);
            s
        };
        let (inner, outer) = (state(0x36), state(0x5c));
        k.zeroize();
        pad.zeroize();
        PreparedHmac { inner, outer }
    }

    /// HMAC-SHA256 of the first `L` bytes of `window` (`L` ≤ 55); bytes after them, up to
    /// a whole lane, are read but do not count. This is the fast path for a key's MAC
    /// input, which is followed in the key by its checksum. The window's length is part
    /// of its type, checked at compile time to cover every lane read.
    ///
    /// Each 16-byte lane of the block is built whole and stored once, so the compression's
    /// 16-byte reads never wait on narrower stores (benches/OPTIMISATIONS.md).
    #[inline]
    pub(crate) fn mac_window<const L: usize, const W: usize>(&self, window: &[u8; W]) -> [u8; 32] {
        const { assert!(L <= MAX_ONE_BLOCK && W >= window_len(L)) };
        let mut block: Lanes = [0; BLOCK / LANE];
        for (k, lane) in bytemuck::cast_mut::<_, [[u8; LANE]; 4]>(&mut block)
            .iter_mut()
            .enumerate()
        {
            *lane = message_lane::<L>(window, k);
        }
        self.finish(block)
    }

    /// The two compressions, given the padded message block (which holds the secret and
    /// is wiped here, as four word stores rather than 64 byte stores).
    #[inline(always)]
    fn finish(&self, mut block: Lanes) -> [u8; 32] {
        let mut inner = self.inner;
        compress256(&mut inner, std::slice::from_ref(bytemuck::cast_ref(&block)));
        block.zeroize();
        let mut outer_block: Lanes = [0; BLOCK / LANE];
        {
            let lanes: &mut [[u8; LANE]; 4] = bytemuck::cast_mut(&mut outer_block);
            [lanes[0], lanes[1]] = big_endian(&inner);
            [lanes[2], lanes[3]] = OUTER_PADDING;
        }
        let mut outer = self.outer;
        compress256(
            &mut outer,
            std::slice::from_ref(bytemuck::cast_ref(&outer_block)),
        );
        bytemuck::cast(big_endian(&outer))
    }
}

/// The last two lanes of the outer block, after the 32-byte inner digest: `0x80`, zeros
/// and the length field (whole constants, so that each is one 16-byte store).
const OUTER_PADDING: [[u8; LANE]; 2] = {
    let mut lanes = [[0u8; LANE]; 2];
    lanes[0][0] = 0x80;
    let length = length_field(32);
    let mut i = 0;
    while i < 8 {
        lanes[1][8 + i] = length[i];
        i += 1;
    }
    lanes
};

/// The SHA-256 length field of a one-block message of `len` bytes after the key block.
const fn length_field(len: usize) -> [u8; 8] {
    (((BLOCK + len) as u64) * 8).to_be_bytes()
}

/// `[0xff; 16]` then `[0; 16]`: 16 bytes from offset `16 - n` keep the first `n` bytes.
static KEEP: [u8; 2 * LANE] = {
    let mut t = [0u8; 2 * LANE];
    let mut i = 0;
    while i < LANE {
        t[i] = 0xff;
        i += 1;
    }
    t
};
/// `[0; 16]`, `0x80`, `[0; 15]`: 16 bytes from offset `16 - n` put `0x80` at byte `n`.
static MARK: [u8; 2 * LANE] = {
    let mut t = [0u8; 2 * LANE];
    t[LANE] = 0x80;
    t
};

/// Lane `k` of the padded block of the first `L` bytes of `window`. Every lane holding a
/// message byte lies inside the window (`mac_window` asserts it), so the reads below miss
/// only for lanes without one, which need nothing read.
#[inline(always)]
fn message_lane<const L: usize>(window: &[u8], k: usize) -> [u8; LANE] {
    let start = k * LANE;
    let mut lane = [0u8; LANE];
    if start + LANE <= L {
        if let Some(src) = window.get(start..start + LANE) {
            lane.copy_from_slice(src);
        }
        return lane;
    }
    if start <= L {
        // The tables are read through an opaque reference so that the masking stays
        // 16-byte vector operations rather than being folded into narrow byte stores.
        let n = L - start;
        let (keep, mark) = std::hint::black_box((&KEEP, &MARK));
        let mut read = [0u8; LANE];
        if let Some(src) = window.get(start..start + LANE) {
            read.copy_from_slice(src);
        }
        let keep = &keep[LANE - n..2 * LANE - n];
        let mark = &mark[LANE - n..2 * LANE - n];
        for j in 0..LANE {
            lane[j] = (read[j] & keep[j]) | mark[j];
        }
    }
    if start + LANE == BLOCK {
        lane[LANE - 8..].copy_from_slice(&length_field(L));
    }
    lane
}

/// A state's bytes in big-endian word order, as two lanes, written plainly: the compiler
/// stores each lane whole, as the outer compression wants (benches/OPTIMISATIONS.md).
#[inline(always)]
fn big_endian(state: &[u32; 8]) -> [[u8; LANE]; 2] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state.iter()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    bytemuck::cast(out)
}

impl Drop for PreparedHmac {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_mac(key: &[u8], msg: &[u8]) -> Vec<u8> {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        ring::hmac::sign(&k, msg).as_ref().to_vec()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// The MAC of `msg` through a window holding `msg` and filler bytes after it (`W` may
    /// exceed the lanes the MAC reads, as a key's whole tail does).
    fn windowed<const L: usize, const W: usize>(prepared: &PreparedHmac, msg: &[u8]) -> Vec<u8> {
        let mut window = [0xa5u8; W];
        window[..L].copy_from_slice(msg);
        prepared.mac_window::<L, W>(&window).to_vec()
    }

    /// `(length, message, MAC)` for a message of each listed length (`L` is a constant).
    macro_rules! each_length {
        ($prepared:expr, $msg_of:expr, [$($len:literal),*]) => {
            vec![$({
                const W: usize = window_len($len);
                let msg: Vec<u8> = $msg_of($len);
                let longer = windowed::<$len, { W + 5 }>($prepared, &msg);
                let mac = windowed::<$len, W>($prepared, &msg);
                assert_eq!(mac, longer, "a longer window changes nothing (len {})", $len);
                ($len, msg.clone(), mac)
            }),*]
        };
    }

    #[test]
    fn rfc4231_vectors() {
        // Test cases 1, 2, 4 and 6 of RFC 4231 (6: a 131-byte key, hashed first).
        type Case = (Vec<u8>, fn(&PreparedHmac) -> Vec<u8>, &'static str);
        let cases: [Case; 4] = [
            (
                vec![0x0b; 20],
                |p| windowed::<8, 16>(p, b"Hi There"),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                |p| windowed::<28, 32>(p, b"what do ya want for nothing?"),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                |p| windowed::<50, 64>(p, &[0xcd; 50]),
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                |p| {
                    windowed::<54, 64>(p, b"Test Using Larger Than Block-Size Key - Hash Key First")
                },
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, mac, expected) in cases {
            assert_eq!(mac(&PreparedHmac::new(&key)), hex(expected));
        }
    }

    #[test]
    fn agrees_with_ring_across_lane_boundaries() {
        for key_len in [1usize, 32, 63, 64, 65, 100] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 31 + 7) as u8).collect();
            let prepared = PreparedHmac::new(&key);
            let msg_of =
                |len: usize| -> Vec<u8> { (0..len).map(|i| (i * 17 + key_len) as u8).collect() };
            let results = each_length!(
                &prepared,
                msg_of,
                [
                    0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 44, 45, 46, 47, 48, 49, 54, 55
                ]
            );
            assert_eq!(results.len(), 19);
            for (len, msg, mac) in results {
                assert_eq!(mac, ring_mac(&key, &msg), "key {key_len} msg {len}");
            }
        }
    }
}
