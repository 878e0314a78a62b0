//! The stream ids of every random stream a run draws from, in one place.
//!
//! A stream is keyed by (seed, stream id, step). The init seed and the data seed are often the same
//! number (`--seed N` sets both), so the stream ids alone must keep the sites apart: the top byte of an
//! id names its family and the rest names the site within it. Two sites of different families can
//! therefore never draw the same numbers, whatever the seeds, and within a family every site has its
//! own id (checked by the tests of the crates that enumerate their sites).

/// Bits below the family tag.
const SITE_BITS: u32 = 56;
const SITE_MASK: u64 = (1 << SITE_BITS) - 1;

/// The families of random streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Family {
    /// Dropout masks (init seed; step = the update).
    Dropout = 1,
    /// Initial values of new tensors (init seed; step 0).
    Init = 2,
    /// The training subsample of `train_limit` (sample seed).
    Sample = 3,
    /// The order of the training examples (data seed; step = the epoch).
    Order = 4,
    /// Mixout masks (init seed; step = the update).
    Mixout = 5,
    /// Masked-LM masks of the analyses (mask seed; step = the text block), and the order in which a
    /// masked-LM head is fitted (step = the epoch).
    Analysis = 6,
    /// Tests and benchmarks, never a run.
    Scratch = 0xFF,
}

/// The stream id of `site` within `family`; `site` keeps its low 56 bits.
pub const fn id(family: Family, site: u64) -> u64 {
    ((family as u64) << SITE_BITS) | (site & SITE_MASK)
}

/// The family an id belongs to.
pub fn family_of(id: u64) -> u64 {
    id >> SITE_BITS
}

/// The training subsample's stream.
pub const SAMPLE: u64 = id(Family::Sample, 0);
/// The epoch orders' stream (one step per epoch).
pub const ORDER: u64 = id(Family::Order, 0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_occupy_the_top_byte() {
        assert_eq!(family_of(id(Family::Dropout, u64::MAX)), 1);
        assert_eq!(family_of(SAMPLE), 3);
        assert_ne!(SAMPLE, ORDER);
        assert_ne!(id(Family::Dropout, 1), id(Family::Init, 1));
    }
}
