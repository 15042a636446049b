//! Fast per-request random streams, bit-identical to
//! `ChaCha8Rng::seed_from_u64(seed)` + `set_stream(request)`.
//!
//! `rand_chacha` always generates four 64-byte blocks at a time, but a request
//! usually needs one or two words. [`StreamBatch`] computes only block 0 of
//! [`LANES`] consecutive streams at once (each step of the ChaCha8 rounds is a
//! loop across the streams, which the compiler vectorises); [`RequestRng`] serves words from
//! that block and, in the rare case a sampler needs more than 16 words, hands
//! over to a real `ChaCha8Rng` positioned at the same word. Tests check the
//! output against `rand_chacha` word for word.

use std::convert::Infallible;

use rand::{SeedableRng, TryRng};
use rand_chacha::ChaCha8Rng;

/// How many streams [`StreamBatch::fill`] computes at once (a power of two).
pub(crate) const LANES: usize = 64;

/// Words in a ChaCha block.
const BLOCK_WORDS: usize = 16;

/// Double rounds of ChaCha8.
const DOUBLE_ROUNDS: usize = 4;

/// "expand 32-byte k".
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Word `w` of stream `first + lane` is `words[w][lane]`.
type Words = [[u32; LANES]; BLOCK_WORDS];

/// Computes block 0 of [`LANES`] consecutive streams of one seed.
#[derive(Clone, Debug)]
pub(crate) struct StreamBatch {
    seed: u64,
    key: [u32; 8],
    first: u64,
    words: Box<Words>,
}

impl StreamBatch {
    /// The streams of `ChaCha8Rng::seed_from_u64(seed)`; call
    /// [`StreamBatch::fill`] before [`StreamBatch::rng`].
    pub(crate) fn new(seed: u64) -> StreamBatch {
        let bytes = ChaCha8Rng::seed_from_u64(seed).get_seed();
        let mut key = [0u32; 8];
        for (word, chunk) in key.iter_mut().zip(bytes.chunks_exact(4)) {
            *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        StreamBatch {
            seed,
            key,
            first: 0,
            words: Box::new([[0; LANES]; BLOCK_WORDS]),
        }
    }

    /// Computes block 0 of streams `first`, `first + 1`, ...,
    /// `first + LANES - 1` (wrapping at `u64::MAX`).
    pub(crate) fn fill(&mut self, first: u64) {
        self.first = first;
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: this CPU has AVX-512F, just checked.
            unsafe { blocks_avx512(&self.key, first, &mut self.words) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: this CPU has AVX2, just checked.
            unsafe { blocks_avx2(&self.key, first, &mut self.words) };
            return;
        }
        blocks(&self.key, first, &mut self.words);
    }

    /// The generator of stream `first + lane` (`lane < LANES`) of the last
    /// [`StreamBatch::fill`].
    pub(crate) fn rng(&self, lane: usize) -> RequestRng<'_> {
        let lane = lane & (LANES - 1);
        RequestRng {
            words: &self.words,
            lane,
            pos: 0,
            seed: self.seed,
            stream: self.first.wrapping_add(lane as u64),
            fallback: None,
        }
    }
}

/// Block 0 of streams `first`, ..., `first + LANES - 1` of `key` into
/// `words`: ChaCha8 with every step a loop across the lanes, which the
/// compiler vectorises (integer arithmetic only: every instruction set gives
/// the same words).
#[inline(always)]
fn blocks(key: &[u32; 8], first: u64, words: &mut Words) {
    let mut x: Words = [[0; LANES]; BLOCK_WORDS];
    for (word, constant) in CONSTANTS.iter().enumerate() {
        x[word] = [*constant; LANES];
    }
    for (i, k) in key.iter().enumerate() {
        x[4 + i] = [*k; LANES];
    }
    // Words 12 and 13 are the block counter (0); 14 and 15 the stream.
    let (mut low, mut high) = ([0u32; LANES], [0u32; LANES]);
    for (lane, (low, high)) in low.iter_mut().zip(&mut high).enumerate() {
        let stream = first.wrapping_add(lane as u64);
        *low = stream as u32;
        *high = (stream >> 32) as u32;
    }
    x[14] = low;
    x[15] = high;
    let init = x;
    for _ in 0..DOUBLE_ROUNDS {
        quarter_round(&mut x, 0, 4, 8, 12);
        quarter_round(&mut x, 1, 5, 9, 13);
        quarter_round(&mut x, 2, 6, 10, 14);
        quarter_round(&mut x, 3, 7, 11, 15);
        quarter_round(&mut x, 0, 5, 10, 15);
        quarter_round(&mut x, 1, 6, 11, 12);
        quarter_round(&mut x, 2, 7, 8, 13);
        quarter_round(&mut x, 3, 4, 9, 14);
    }
    for ((out, x), init) in words.iter_mut().zip(&x).zip(&init) {
        for ((out, x), init) in out.iter_mut().zip(x).zip(init) {
            *out = x.wrapping_add(*init);
        }
    }
}

/// [`blocks`] compiled for AVX2: 8 lanes per instruction instead of SSE2's
/// 4, about twice as fast (the release build targets baseline x86-64).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn blocks_avx2(key: &[u32; 8], first: u64, words: &mut Words) {
    blocks(key, first, words);
}

/// [`blocks`] compiled for AVX-512: 16 lanes per instruction, and a
/// rotate instruction.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn blocks_avx512(key: &[u32; 8], first: u64, words: &mut Words) {
    blocks(key, first, words);
}

/// One ChaCha quarter round on every lane; the lane loop is vectorised.
// Indexing four rows of `x` at the same lane is the clearest form, and the one
// the compiler vectorises.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn quarter_round(x: &mut Words, a: usize, b: usize, c: usize, d: usize) {
    for lane in 0..LANES {
        let (mut va, mut vb, mut vc, mut vd) = (x[a][lane], x[b][lane], x[c][lane], x[d][lane]);
        va = va.wrapping_add(vb);
        vd = (vd ^ va).rotate_left(16);
        vc = vc.wrapping_add(vd);
        vb = (vb ^ vc).rotate_left(12);
        va = va.wrapping_add(vb);
        vd = (vd ^ va).rotate_left(8);
        vc = vc.wrapping_add(vd);
        vb = (vb ^ vc).rotate_left(7);
        x[a][lane] = va;
        x[b][lane] = vb;
        x[c][lane] = vc;
        x[d][lane] = vd;
    }
}

/// The random stream of one request: identical output to
/// `ChaCha8Rng::seed_from_u64(seed)` + `set_stream(stream)`.
#[derive(Clone, Debug)]
pub(crate) struct RequestRng<'a> {
    words: &'a Words,
    lane: usize,
    /// The next word of block 0 to hand out.
    pos: usize,
    seed: u64,
    stream: u64,
    /// Takes over once block 0 is used up.
    fallback: Option<Box<ChaCha8Rng>>,
}

impl RequestRng<'_> {
    /// Hands over to a real generator at the current word position.
    #[cold]
    fn fallback(&mut self) -> &mut ChaCha8Rng {
        let (seed, stream, pos) = (self.seed, self.stream, self.pos);
        self.fallback.get_or_insert_with(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(stream);
            rng.set_word_pos(pos as u128);
            Box::new(rng)
        })
    }

    #[inline]
    fn word(&self, pos: usize) -> u32 {
        self.words[pos % BLOCK_WORDS][self.lane & (LANES - 1)]
    }
}

impl TryRng for RequestRng<'_> {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        if self.fallback.is_none() && self.pos < BLOCK_WORDS {
            let word = self.word(self.pos);
            self.pos += 1;
            return Ok(word);
        }
        self.fallback().try_next_u32()
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        if self.fallback.is_none() && self.pos + 1 < BLOCK_WORDS {
            let lo = u64::from(self.word(self.pos));
            let hi = u64::from(self.word(self.pos + 1));
            self.pos += 2;
            return Ok((hi << 32) | lo);
        }
        self.fallback().try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fallback().try_fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    fn reference(seed: u64, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        rng
    }

    #[test]
    fn first_blocks_match_rand_chacha() {
        for seed in [0, 1, 42, u64::MAX] {
            let batch = StreamBatch::new(seed);
            for first in [0, 5, (1 << 32) - 3, u64::MAX - 3] {
                let mut batch = batch.clone();
                batch.fill(first);
                for lane in 0..LANES {
                    let mut fast = batch.rng(lane);
                    let mut rng = reference(seed, first.wrapping_add(lane as u64));
                    for _ in 0..BLOCK_WORDS {
                        assert_eq!(fast.next_u32(), rng.next_u32());
                    }
                }
            }
        }
    }

    /// `fill` takes the widest instruction set the CPU has; the others must
    /// give the same words, on any machine that runs them.
    #[test]
    fn every_instruction_set_computes_the_same_blocks() {
        let key = StreamBatch::new(42).key;
        for first in [0, 64, (1 << 32) - 3, u64::MAX - 3] {
            let mut plain: Box<Words> = Box::new([[0; LANES]; BLOCK_WORDS]);
            blocks(&key, first, &mut plain);
            let mut batch = StreamBatch::new(42);
            batch.fill(first);
            assert_eq!(batch.words, plain, "fill at {first}");
            #[cfg(target_arch = "x86_64")]
            {
                let mut wide: Box<Words> = Box::new([[0; LANES]; BLOCK_WORDS]);
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: checked just above.
                    unsafe { blocks_avx2(&key, first, &mut wide) };
                    assert_eq!(wide, plain, "AVX2 at {first}");
                } else {
                    eprintln!("no AVX2 on this CPU: its blocks are not compared");
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: checked just above.
                    unsafe { blocks_avx512(&key, first, &mut wide) };
                    assert_eq!(wide, plain, "AVX-512 at {first}");
                } else {
                    eprintln!("no AVX-512 on this CPU: its blocks are not compared");
                }
            }
        }
    }

    #[test]
    fn request_rng_matches_rand_chacha_past_the_first_block() {
        let mut batch = StreamBatch::new(7);
        batch.fill(100);
        // Mixed word sizes, so the hand-over happens at even and odd positions.
        for pattern in 0..6u32 {
            let mut fast = batch.rng(3);
            let mut slow = reference(7, 103);
            for step in 0..200u32 {
                if (step + pattern) % 3 == 0 {
                    assert_eq!(fast.next_u32(), slow.next_u32(), "step {step}");
                } else {
                    assert_eq!(fast.next_u64(), slow.next_u64(), "step {step}");
                }
            }
            let (mut a, mut b) = ([0u8; 13], [0u8; 13]);
            fast.fill_bytes(&mut a);
            slow.fill_bytes(&mut b);
            assert_eq!(a, b);
            assert_eq!(fast.next_u64(), slow.next_u64());
        }
    }
}
