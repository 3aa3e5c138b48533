//! The rolling checksum that places chunk boundaries: bup's rollsum (as Perkeep and
//! containers/storage's `compressor/rollsum.go` implement it), a 64-byte window whose second
//! sum splits the stream where its low bits are all ones.

/// Bytes in the rolling window (a power of two).
pub(crate) const WINDOW_SIZE: usize = 64;
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

    /// Slide the window on over `bytes` until the low `bits` bits of the second sum are all
    /// ones after a byte: then a chunk ends after that byte, and the bytes rolled so far are
    /// returned. `None` when all of `bytes` were rolled without a split.
    ///
    /// This is the hot loop of the compressor (it sees every byte of every file): the sums
    /// live in locals while it runs, and past the first window's worth of `bytes` the byte
    /// leaving the window is read from `bytes` itself, so the window is written only once, at
    /// the end.
    pub(crate) fn roll_until_split(&mut self, bytes: &[u8], bits: u32) -> Option<usize> {
        let mask = (1u32 << bits) - 1;
        let (mut s1, mut s2) = (self.s1, self.s2);
        let mut roll = |added: u8, dropped: u8| {
            let dropped = u32::from(dropped);
            s1 = s1.wrapping_add(u32::from(added)).wrapping_sub(dropped);
            s2 = s2.wrapping_add(
                s1.wrapping_sub((WINDOW_SIZE as u32).wrapping_mul(dropped + CHAR_OFFSET)),
            );
            s2 & mask == mask
        };
        let head = bytes.len().min(WINDOW_SIZE);
        let mut split = (0..head)
            .find(|&index| {
                let dropped = self.window[(self.window_offset + index) & (WINDOW_SIZE - 1)];
                roll(bytes[index], dropped)
            })
            .map(|index| index + 1);
        if split.is_none() && bytes.len() > WINDOW_SIZE {
            split = bytes[WINDOW_SIZE..]
                .iter()
                .zip(bytes)
                .position(|(&added, &dropped)| roll(added, dropped))
                .map(|index| WINDOW_SIZE + index + 1);
        }
        let rolled = split.unwrap_or(bytes.len());
        if rolled >= WINDOW_SIZE {
            self.window
                .copy_from_slice(&bytes[rolled - WINDOW_SIZE..rolled]);
            self.window_offset = 0;
        } else {
            for &byte in &bytes[..rolled] {
                self.window[self.window_offset] = byte;
                self.window_offset = (self.window_offset + 1) & (WINDOW_SIZE - 1);
            }
        }
        self.s1 = s1;
        self.s2 = s2;
        split
    }

    /// Slide the window on over `count` zero bytes, ignoring splits. Once the window holds
    /// only zeros, more zeros change neither sum (s1 is then `WINDOW_SIZE * CHAR_OFFSET`, which
    /// is exactly what each zero takes off s2 again), so at most a window's worth is rolled:
    /// a hole of a gigabyte costs what one of 64 bytes does.
    pub(crate) fn roll_zeros(&mut self, count: u64) {
        let rolled = count.min(WINDOW_SIZE as u64) as usize;
        for _ in 0..rolled {
            let dropped = u32::from(self.window[self.window_offset]);
            self.s1 = self.s1.wrapping_sub(dropped);
            self.s2 = self.s2.wrapping_add(
                self.s1
                    .wrapping_sub((WINDOW_SIZE as u32).wrapping_mul(dropped + CHAR_OFFSET)),
            );
            self.window[self.window_offset] = 0;
            self.window_offset = (self.window_offset + 1) & (WINDOW_SIZE - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bup's rollsum one byte at a time, as upstream writes it: what the batched loops must
    /// agree with.
    fn roll_one(sum: &mut RollSum, byte: u8) {
        let dropped = u32::from(sum.window[sum.window_offset]);
        sum.s1 = sum.s1.wrapping_add(u32::from(byte)).wrapping_sub(dropped);
        sum.s2 = sum.s2.wrapping_add(
            sum.s1
                .wrapping_sub(64u32.wrapping_mul(dropped + CHAR_OFFSET)),
        );
        sum.window[sum.window_offset] = byte;
        sum.window_offset = (sum.window_offset + 1) & 63;
    }

    fn pseudo_random(count: usize) -> Vec<u8> {
        let mut state = 0x1234_5678_u32;
        (0..count)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect()
    }

    /// The split positions of a fixed pseudo-random stream: a change to the arithmetic
    /// moves them.
    #[test]
    fn splits_where_bup_splits() {
        let data = pseudo_random(400_000);
        let mut reference = RollSum::new();
        let mut expected = Vec::new();
        for (position, &byte) in data.iter().enumerate() {
            roll_one(&mut reference, byte);
            if reference.s2 & 0xffff == 0xffff {
                expected.push(position + 1);
            }
        }
        assert!(!expected.is_empty() && expected.len() < 20, "{expected:?}");
        let mut sum = RollSum::new();
        let mut splits = Vec::new();
        let mut rest = &data[..];
        let mut done = 0;
        while let Some(length) = sum.roll_until_split(rest, 16) {
            done += length;
            splits.push(done);
            rest = &rest[length..];
        }
        assert_eq!(splits, expected);
        assert_eq!((sum.s1, sum.s2), (reference.s1, reference.s2));
    }

    #[test]
    fn a_long_run_of_zeros_rolls_as_its_first_window() {
        let data = pseudo_random(1000);
        let mut start = RollSum::new();
        for &byte in &data {
            roll_one(&mut start, byte);
        }
        for count in [1, 63, 64, 65, 1024, 100_000] {
            let mut reference = start.clone();
            for _ in 0..count {
                roll_one(&mut reference, 0);
            }
            let mut sum = start.clone();
            sum.roll_zeros(count);
            assert_eq!((sum.s1, sum.s2), (reference.s1, reference.s2), "{count}");
        }
    }
}
