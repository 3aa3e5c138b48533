//! The rolling checksum that places chunk boundaries: bup's rollsum (as Perkeep and
//! containers/storage's `compressor/rollsum.go` implement it), a 64-byte window whose second
//! sum splits the stream where its low bits are all ones.

/// Bytes in the rolling window (a power of two).
const WINDOW_SIZE: usize = 64;
/// Added to every byte, as bup does, so that runs of zeros still move the sums.
const CHAR_OFFSET: u32 = 31;

/// bup's two running sums over the last [`WINDOW_SIZE`] bytes.
#[derive(Clone)]
pub(crate) struct RollSum {
    s1: u32,
    s2: u32,
    window: [u8; WINDOW_SIZE],
    window_offset: usize,
}

impl RollSum {
    /// The sums of a window of zero bytes.
    pub(crate) fn new() -> RollSum {
        RollSum {
            s1: WINDOW_SIZE as u32 * CHAR_OFFSET,
            s2: WINDOW_SIZE as u32 * (WINDOW_SIZE as u32 - 1) * CHAR_OFFSET,
            window: [0; WINDOW_SIZE],
            window_offset: 0,
        }
    }

    /// Slide the window one byte on, taking in `byte`.
    pub(crate) fn roll(&mut self, byte: u8) {
        let dropped = u32::from(self.window[self.window_offset]);
        let added = u32::from(byte);
        self.s1 = self.s1.wrapping_add(added).wrapping_sub(dropped);
        self.s2 = self.s2.wrapping_add(
            self.s1
                .wrapping_sub((WINDOW_SIZE as u32).wrapping_mul(dropped + CHAR_OFFSET)),
        );
        self.window[self.window_offset] = byte;
        self.window_offset = (self.window_offset + 1) & (WINDOW_SIZE - 1);
    }

    /// Whether the low `bits` bits of the second sum are all ones: a chunk ends here.
    pub(crate) fn on_split_with_bits(&self, bits: u32) -> bool {
        let mask = (1u32 << bits) - 1;
        self.s2 & mask == mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split positions of a fixed pseudo-random stream: a change to the arithmetic
    /// moves them.
    #[test]
    fn splits_where_bup_splits() {
        let mut state = 0x1234_5678_u32;
        let mut sum = RollSum::new();
        let mut splits = Vec::new();
        for position in 0..400_000u32 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            sum.roll((state >> 16) as u8);
            if sum.on_split_with_bits(16) {
                splits.push(position);
            }
        }
        assert!(!splits.is_empty() && splits.len() < 20, "{splits:?}");
        // Zeros never split a fresh sum: s2 stays a multiple of 64 * 31.
        let mut zeros = RollSum::new();
        for _ in 0..100_000 {
            zeros.roll(0);
            assert!(!zeros.on_split_with_bits(16));
        }
    }
}
